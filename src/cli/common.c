/* common.c: placeholder, filled in with the command-line's shared helpers. */
#include "cli.h"
