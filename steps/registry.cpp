#include "steps/registry.h"

#include "steps/helm_release.h"
#include "steps/http_check.h"
#include "steps/k8s_apply.h"
#include "steps/k8s_namespace.h"
#include "steps/k8s_wait.h"
#ifdef SLIPWAY_HAVE_LOADTEST
#include "steps/loadtest_step.h"
#endif
#include "steps/mesh_istio.h"
#include "steps/mesh_linkerd.h"
#include "steps/notify.h"
#include "steps/prereq.h"
#include "steps/report.h"
#include "steps/run_step.h"
#include "steps/service.h"
#include "steps/slo.h"
#include "steps/template_step.h"

namespace slipway::steps {

pipeline::KindRegistry BuiltinKinds() {
  pipeline::KindRegistry r;
  r.Register(std::make_unique<RunStep>());
  r.Register(std::make_unique<PrereqStep>());
  r.Register(std::make_unique<HttpCheckStep>());
  r.Register(std::make_unique<ServiceStep>());
  r.Register(std::make_unique<NotifyStep>());
  r.Register(std::make_unique<TemplateStep>());
  r.Register(std::make_unique<K8sNamespaceStep>());
  r.Register(std::make_unique<K8sApplyStep>());
  r.Register(std::make_unique<K8sWaitStep>());
  r.Register(std::make_unique<ReportStep>());
  r.Register(std::make_unique<SloStep>());
#ifdef SLIPWAY_HAVE_LOADTEST
  r.Register(std::make_unique<LoadtestStep>());
#endif
  r.Register(std::make_unique<HelmReleaseStep>());
  r.Register(std::make_unique<MeshIstioStep>());
  r.Register(std::make_unique<MeshLinkerdStep>());
  return r;
}

}  // namespace slipway::steps
