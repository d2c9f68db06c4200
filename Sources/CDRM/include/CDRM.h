/* placeholder: filled by the CDRM shim */
