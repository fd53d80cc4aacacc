#pragma once
#include "pipeline/step.h"

namespace slipway::steps {

/// A registry holding every kind this build knows.
pipeline::KindRegistry BuiltinKinds();

}  // namespace slipway::steps
