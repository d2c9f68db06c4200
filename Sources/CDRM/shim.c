// Everything in CDRM is a static inline in include/CDRM.h; SwiftPM needs one source file.
#include "CDRM.h"
