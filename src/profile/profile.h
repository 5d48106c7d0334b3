// Profile validation: resources checked against constraint StructureDefinitions
// (http://hl7.org/fhir/R4/profiling.html, http://hl7.org/fhir/R4/validation.html#profile),
// e.g. the Norwegian base profiles (no-basis) and their extension definitions.
//
// Profiles are loaded as resources: ProfileRegistry::Add takes a
// StructureDefinition (from the API or LoadDirectory at start-up). Each one is
// compiled once into a tree of element constraints keyed by element id
// (children, slices, fixed/pattern values, cardinality, types, bindings,
// compiled FHIRPath invariants); validating a resource walks that tree and
// the resource together, never the snapshot.
//
// What ValidateProfiles checks, per profile the resource claims in
// meta.profile (and per extra profile, e.g. $validate?profile=):
//   - the resource type is the profile's type;
//   - cardinality where the profile narrows the base (min raised, max
//     lowered, max "0" = prohibited) — the base cardinality is the structural
//     validator's job;
//   - fixed[x] (exact JSON equality) and pattern[x] (the instance contains the
//     pattern: every member of the pattern present with a containing value,
//     every array item of the pattern matched by some item of the instance);
//   - type restrictions (a choice element narrowed to fewer types) and, for
//     references, the resource type the reference names (literal
//     "Type/id" or absolute URL, or Reference.type) against targetProfile
//     (types only: core profiles by their type, registry profiles by theirs);
//   - slicing: discriminators of type value, pattern, exists and type, with
//     simple dotted paths ("url", "system", "coding.system", "$this");
//     extension slices match by the url of their type profile. Each item is
//     assigned to the first slice it matches; slice min/max; closed slicing
//     (an item that matches no slice); openAtEnd and ordered slicing; each
//     matched item is checked against its slice's constraints as well;
//   - datatype profiles on element types (Patient.name → no-basis-HumanName)
//     when the registry has them;
//   - required bindings to value sets the registry knows (ValueSets and
//     CodeSystems added with AddTerminology / LoadDirectory); unknown value
//     sets (FHIR core, external code systems) are not checked here;
//   - the profile's own constraint[] invariants, evaluated with the FHIRPath
//     engine like validation/invariants.h evaluates the core ones (the core
//     constraints the snapshot repeats, identical key and expression, are
//     left to the structural validator).
// Independently of meta.profile, every extension anywhere in the resource
// whose url the registry has an extension definition for is checked against
// that definition (value type, cardinality of its parts, fixed values,
// nested extensions, invariants) and for how often it occurs on one element.
//
// Not checked: discriminators of type profile or with paths using resolve()
// or functions (such slices match nothing), extension context, value sets
// defined by filters or by other value sets, contained resources' own
// meta.profile, and conformance of referenced resources.
//
// Issues (severity error unless noted; expression = FHIRPath of the instance
// location, e.g. "Patient.identifier[1].value"; texts name the profile and the
// element id, and never quote data from the resource):
//
// | code        | type          | problem                                                   |
// |-------------|---------------|-----------------------------------------------------------|
// | GM-PROF-001 | invalid       | Add: not a StructureDefinition (or ValueSet/CodeSystem)    |
// | GM-PROF-002 | required      | Add: url, type or snapshot.element missing                 |
// | GM-PROF-003 | not-supported | Add: not a constraint on a type the model knows             |
// | GM-PROF-004 | invalid       | Add: a snapshot element that cannot be placed              |
// | GM-PROF-005 | exception     | LoadDirectory: unreadable directory or file, invalid JSON  |
// | GM-PROF-010 | not-supported | warning: meta.profile names a profile the registry lacks   |
// | GM-PROF-011 | not-found     | an extra (requested) profile the registry lacks            |
// | GM-PROF-012 | invalid       | the resource is not of the profile's type                  |
// | GM-PROF-020 | required      | fewer occurrences than the profile's min                   |
// | GM-PROF-021 | structure     | more occurrences than the profile's max                    |
// | GM-PROF-022 | structure     | an element the profile prohibits (max 0) is present        |
// | GM-PROF-023 | value         | value differs from the profile's fixed[x] value            |
// | GM-PROF-024 | value         | value does not contain the profile's pattern[x] value      |
// | GM-PROF-025 | structure     | a type the profile does not allow for the element          |
// | GM-PROF-026 | invalid       | reference to a resource type the profile does not allow    |
// | GM-PROF-030 | required      | fewer items in a slice than its min                        |
// | GM-PROF-031 | structure     | more items in a slice than its max                         |
// | GM-PROF-032 | structure     | closed slicing: an item that matches no slice              |
// | GM-PROF-033 | structure     | ordered/openAtEnd slicing: an item out of order            |
// | GM-PROF-040 | structure     | extension value of a type its definition does not allow    |
// | GM-PROF-041 | structure     | an extension repeated more often than its definition allows|
// | GM-PROF-050 | code-invalid  | code not in the value set of a required binding            |
// | GM-PROF-060 | invariant     | a profile constraint of severity error is violated         |
// | GM-PROF-061 | invariant     | warning: a profile constraint of severity warning violated |
// | GM-PROF-062 | invariant     | warning: a profile constraint could not be evaluated       |
// | GM-PROF-070 | too-costly    | too many issues; profile validation stopped                |
//
// Thread-safety: ProfileRegistry is safe for concurrent Add/Find/validation;
// compiled profiles are immutable and shared (a profile replaced while a
// validation uses it stays alive until that validation ends).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "fhir/model.h"

namespace gm::profile {

namespace internal {
struct ElementNode;
struct CodeSystemIndex;
}  // namespace internal

// One compiled constraint profile. Immutable.
class Profile {
 public:
  ~Profile();
  const std::string& url() const { return url_; }
  const std::string& version() const { return version_; }
  const std::string& type() const { return type_; }  // "Patient", "Extension", "HumanName"
  bool is_extension() const { return type_ == "Extension"; }
  // The compiled element tree (internal; see profile/compiled.h).
  const internal::ElementNode& root() const { return *root_; }
  size_t element_count() const { return element_count_; }

 private:
  friend class ProfileRegistry;
  friend struct ProfileCompiler;
  Profile();
  std::string url_, version_, type_;
  std::unique_ptr<internal::ElementNode> root_;
  size_t element_count_ = 0;
};

class ProfileRegistry {
 public:
  // model: the base definitions the profiles constrain; must outlive the registry.
  explicit ProfileRegistry(const fhir::Model& model = fhir::Model::R4());
  ~ProfileRegistry();
  ProfileRegistry(const ProfileRegistry&) = delete;
  ProfileRegistry& operator=(const ProfileRegistry&) = delete;

  // Compiles and adds (or replaces: same url and version) a constraint
  // StructureDefinition with a snapshot. Errors GM-PROF-001..004 (kUnprocessable).
  Status Add(const json::Value& structure_definition);
  // Adds a ValueSet or CodeSystem for required bindings (same url|version replaces).
  Status AddTerminology(const json::Value& resource);
  // Add for StructureDefinitions, AddTerminology for ValueSets and CodeSystems;
  // Ok (nothing done) for any other resource type.
  Status AddResource(const json::Value& resource);
  // True for the resource types AddResource takes.
  static bool Handles(std::string_view resource_type);
  // Forgets what AddResource registered for a definition that was deleted or
  // changed its url/version: the StructureDefinition or ValueSet with exactly
  // this url and version, or the CodeSystem with this url (kept by url only).
  // Returns whether anything was removed.
  bool Unregister(std::string_view resource_type, std::string_view url,
                  std::string_view version);

  // Loads every *.json file of the directory (not recursive, in name order)
  // that is a StructureDefinition, ValueSet or CodeSystem; other files are
  // ignored. All usable ones are loaded; the Status lists (GM-PROF-005 and the
  // Add codes, with the file name in the text) those that were not.
  Status LoadDirectory(const std::string& path);

  // By canonical url, "url" (the one added last) or "url|version".
  std::shared_ptr<const Profile> Find(std::string_view canonical) const;
  size_t size() const;  // profiles (distinct url|version)
  std::vector<std::string> Urls() const;

  // Required-binding membership: true/false when the value set (and the code
  // systems it includes) are known and enumerable for `system`; nullopt when
  // it cannot be decided here. An empty system matches any included system.
  std::optional<bool> ValueSetContains(std::string_view valueset, std::string_view system,
                                       std::string_view code) const;
  bool HasValueSet(std::string_view valueset) const;  // by url, version ignored

  const fhir::Model& model() const { return model_; }

 private:
  const fhir::Model& model_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<const Profile>>> profiles_;
  std::unordered_map<std::string, std::vector<json::Value>> valuesets_;
  std::unordered_map<std::string, std::shared_ptr<const internal::CodeSystemIndex>> codesystems_;
};

struct ProfileValidation {
  // Ok when no issue is an error; otherwise kUnprocessable with every issue.
  Status status;
  std::vector<Issue> warnings;  // warning issues (also when status is an error)
};

struct ValidateProfilesOptions {
  size_t max_issues = 100;         // then GM-PROF-070 and stop
  uint64_t max_steps = 1'000'000;  // FHIRPath work limit per invariant evaluation
};

// Validates `resource` against the profiles it claims (meta.profile) that the
// registry knows, plus `extra_profiles`, and its extensions against the
// extension definitions the registry knows. Thread-safe.
ProfileValidation CheckProfiles(const json::Value& resource, const ProfileRegistry& registry,
                                const fhir::Model& model,
                                const std::vector<std::string>& extra_profiles = {},
                                const ValidateProfilesOptions& options = {});

// CheckProfiles as a Status: kUnprocessable with all issues when any is an
// error; otherwise Ok — and then issues() holds the warnings, if any (the
// category stays kOk).
Status ValidateProfiles(const json::Value& resource, const ProfileRegistry& registry,
                        const fhir::Model& model,
                        const std::vector<std::string>& extra_profiles = {});

}  // namespace gm::profile
