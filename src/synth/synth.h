// A deterministic synthetic Norway (grunnmur synth): citizens in real
// municipalities with households, parental responsibility, confidential
// addresses, GPs and their lists, health organisations, health personnel with
// HPR authorisations, and each citizen's history (≈ 100 resources a citizen
// on average, few for children, many for the old): GP visits with vital
// signs, acute and chronic conditions (ICPC-2, ICD-10) with follow-up,
// prescriptions renewed yearly and their dispensings, laboratory requisitions
// (ServiceRequest, Specimen, Observations, DiagnosticReport; urine cultures
// with isolates and susceptibilities), immunisations, allergies, hospital
// stays (EpisodeOfCare + inpatient Encounter), nursing-home residence and
// deaths. The representation choices and the distributions are documented in
// docs/grunndata.md.
//
// Determinism: the output is a pure function of (patients, seed); the
// reference date is fixed (Options::today), no clock, no hash-order
// iteration, own random number generator (no std:: distributions).
//
// Thread-safety: a Generator is used from one thread (ForEachPatientParallel
// runs the histories on threads of its own).
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
  // false: the registries and the citizens only (Patient, RelatedPerson), no histories.
  bool histories = true;
  // Threads for WriteOutput (0: 1 with fewer than 4 cores, else cores − 1, at
  // most 8); the output does not depend on it.
  int threads = 0;
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

  // ForEachPatient with the histories generated on `threads` threads:
  // `render` runs on those threads (concurrently, for different citizens) and
  // may turn a citizen's resources into text lines; `sink` then gets each
  // citizen's resources and lines in citizen order on the calling thread.
  // The resources are the same for any number of threads.
  using Render = std::function<void(std::vector<json::Value>& resources, std::vector<std::string>& lines)>;
  using Sink = std::function<Status(std::vector<json::Value>& resources, std::vector<std::string>& lines)>;
  Status ForEachPatientParallel(int threads, const Render& render, const Sink& sink);

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
