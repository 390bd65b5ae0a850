#include "memprof_dwarf.h"
