#include "steps/registry.h"

#include "steps/run_step.h"

namespace slipway::steps {

pipeline::KindRegistry BuiltinKinds() {
  pipeline::KindRegistry r;
  r.Register(std::make_unique<RunStep>());
  return r;
}

}  // namespace slipway::steps
