// offer_option(): OptSource is declared weakest first, so ranking two sources
// is comparing them.
#include "model/option_rank.h"

namespace portrel {

bool offer_option(Tristate& value, OptSource& from, Tristate offered, OptSource source) {
  if (offered == Tristate::unknown || source <= from) return false;
  value = offered;
  from = source;
  return true;
}

}  // namespace portrel
