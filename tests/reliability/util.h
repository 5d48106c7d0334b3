// Helpers shared by the reliability tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "tests/support/server_process.h"

namespace gm::testing {

// True when GM_LONG=1: the long (on-demand) modes.
inline bool LongMode() {
  const char* v = std::getenv("GM_LONG");
  return v != nullptr && std::string(v) == "1";
}

// The seed of a randomised test: GM_SEED if set, else `fallback` (fixed, so a
// run is repeatable; the seed is printed so a failure can be replayed).
inline uint32_t Seed(uint32_t fallback) {
  const char* v = std::getenv("GM_SEED");
  return v != nullptr ? static_cast<uint32_t>(std::strtoul(v, nullptr, 10)) : fallback;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command; its output and exit code.
inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs `grunnmur check --data dir` (the server must not be running on it).
inline CommandResult RunCheck(const std::string& dir) {
  return RunCommand(std::string(GM_BINARY) + " check --data '" + dir + "' 2>&1");
}

// A field of /proc/PID/status in KiB (VmHWM: peak resident set), -1 if unknown.
inline int64_t ProcStatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Follows a Bundle's "next" links from `first`, calling fn for every entry.
// Returns false if a page did not answer 200.
inline bool ForEachEntry(HttpClient& c, std::string first,
                         const std::function<void(const json::Value&)>& fn) {
  std::string next = std::move(first);
  while (!next.empty()) {
    HttpResponse r = c.Get(next);
    if (r.status != 200) return false;
    const json::Value& b = r.json();
    if (const json::Value* e = b.find("entry")) {
      for (const json::Value& entry : e->array()) fn(entry);
    }
    next.clear();
    if (const json::Value* links = b.find("link")) {
      for (const json::Value& l : links->array()) {
        if (l.get_string("relation") == "next") {
          std::string url(l.get_string("url"));
          next = url.substr(url.find('/', 8));
        }
      }
    }
  }
  return true;
}

}  // namespace gm::testing
