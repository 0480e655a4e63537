/* zr_common.c - status code names. */
#include "zr_common.h"

const char *zr_status_str(zr_status st)
{
    switch (st) {
    case ZR_OK: return "ok";
    case ZR_EINVAL: return "invalid argument";
    case ZR_ERANGE: return "out of range";
    case ZR_ENOMEM: return "out of memory";
    case ZR_ESTATE: return "invalid state";
    case ZR_EREJECTED: return "rejected";
    case ZR_EIO: return "i/o error";
    case ZR_ECORRUPT: return "corrupt data";
    }
    return "unknown status";
}
