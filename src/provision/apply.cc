// STUB: replaced by the reconciler implementation.
#include "provision/apply.h"

namespace tusk::provision {
ApplyReport ApplyInstance(const config::Instance&, const postgres::ConnInfo&,
                          const std::map<std::string, std::string>&, const ApplyOptions&,
                          std::ostream&) {
  ApplyReport r;
  r.errors.push_back("not implemented");
  return r;
}
}  // namespace tusk::provision
