/* Swift Package Manager needs one source file in a C target; the helpers are inline in the header. */
#include "CShims.h"
