// slipway-demo-service: the stand-in application of slipway's no-cluster demo. See
// demo_server.h for its behaviour and `slipway-demo-service --help` for its flags.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "demo/demo_options.h"
#include "demo/demo_server.h"

namespace {

// Written to a temp file and renamed, so a reader polling for the file never sees it half-written.
bool WritePortFile(const std::string& path, int port) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    out.close();
    if (!out) return false;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = slipway::demo::ParseDemoArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (auto* exit = std::get_if<slipway::demo::CliExit>(&parsed)) {
    std::fputs(exit->text.c_str(), exit->exit_code == 0 ? stdout : stderr);
    return exit->exit_code;
  }
  const auto& options = std::get<slipway::demo::DemoOptions>(parsed);

  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // sigwait() below is the only place they are delivered.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  slipway::demo::DemoServer server(options);
  if (auto error = server.Bind()) {
    std::fprintf(stderr, "slipway-demo-service: %s\n", error->c_str());
    return 1;
  }
  if (!options.port_file.empty() && !WritePortFile(options.port_file, server.Port())) {
    std::fprintf(stderr, "slipway-demo-service: cannot write --port-file %s: %s\n", options.port_file.c_str(),
                 std::strerror(errno));
    return 1;
  }
  server.Start();
  std::printf("listening on %s\n", server.Address().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::fprintf(stderr, "slipway-demo-service: %s received, draining\n", strsignal(signal_number));
  server.Stop();
  return 0;
}
