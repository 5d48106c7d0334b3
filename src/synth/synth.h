// A deterministic synthetic Norway (grunnmur synth): citizens in real
// municipalities with households, parental responsibility, confidential
// addresses, GPs and their lists, health organisations, health personnel with
// HPR authorisations, and each citizen's history (encounters, conditions,
// allergies, prescriptions and dispensings, lab results, immunisations).
// The representation choices are documented in docs/grunndata.md.
//
// Determinism: the output is a pure function of (patients, seed); the
// reference date is fixed (Options::today), no clock, no hash-order
// iteration, own random number generator (no std:: distributions).
//
// Thread-safety: a Generator is used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"

namespace gm::synth {

struct Municipality {
  std::string code;  // SSB kommunenummer, "0301"
  std::string name;  // "Oslo"
};
// The municipalities embedded at build time (SSB classification, 2020).
const std::vector<Municipality>& Municipalities();

struct Options {
  size_t patients = 1000;
  uint64_t seed = 1;
  // The generator's "today" (ISO date): ages, history and periods are relative to it.
  std::string today = "2026-11-29";
};

struct Counts {
  size_t patients = 0;
  size_t resources = 0;  // everything, registry included
};

class Generator {
 public:
  explicit Generator(const Options& options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // The shared registry resources (organisations, locations, services,
  // endpoints, practitioners, practitioner roles), in a fixed order.
  const std::vector<json::Value>& Registry() const;

  // Generates the citizens, household by household, and calls `sink` once
  // per citizen with all resources of that citizen (the Patient first, then
  // the RelatedPersons that name the citizen as patient, then the history).
  // A sink returning a non-ok Status stops the generation with that Status.
  Status ForEachPatient(const std::function<Status(std::vector<json::Value>& resources)>& sink);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A transaction Bundle that PUTs each resource at Type/id.
json::Value TransactionBundle(const std::vector<json::Value>& resources);

enum class Format { kNdjson, kBundles };

// Writes a population to `dir` (created if needed):
//  - kNdjson: <Type>.ndjson, one resource per line, registry resources first.
//  - kBundles: registry.ndjson (transaction Bundles of at most 500 registry
//    resources, one per line) and patients.ndjson (one transaction Bundle per
//    citizen, one per line).
// Both also write manifest.json ({"patients":N,"seed":S,"resources":R,"format":...}).
Result<Counts> WriteOutput(const Options& options, const std::string& dir, Format format);

}  // namespace gm::synth
