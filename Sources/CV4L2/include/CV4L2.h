/* placeholder: filled by the CV4L2 shim */
