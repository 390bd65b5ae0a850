#include "memprof_format.h"
