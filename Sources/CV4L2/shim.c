// Everything in CV4L2 is a static inline in include/CV4L2.h; SwiftPM needs one source file.
#include "CV4L2.h"
