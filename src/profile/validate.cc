// Validating a resource against compiled profiles: the element tree of each
// profile and the resource are walked together (profile/compiled.h).
#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include "profile/compiled.h"
#include "profile/profile.h"

namespace gm::profile {

namespace {

using internal::Discriminator;
using internal::ElementNode;

// One instance of an element: its JSON, the "_name" companion of a primitive,
// its type and its FHIRPath location.
struct Inst {
  const json::Value* node = nullptr;       // object, primitive value, or null (companion only)
  const json::Value* companion = nullptr;  // primitives: the "_name" object
  std::string type;                        // type code: "Identifier", "string", "Patient"
  const fhir::TypeDef* type_def = nullptr;
  std::string loc;
};

constexpr std::string_view kCorePrefix = "http://hl7.org/fhir/StructureDefinition/";

std::string Shorten(std::string s, size_t max = 120) {
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

// True when `inst` contains `pattern` (http://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.pattern_x_).
bool Contains(const json::Value* inst, const json::Value& pattern) {
  if (inst == nullptr) return false;
  if (pattern.is_object()) {
    if (!inst->is_object()) return false;
    for (const json::Member& m : pattern.object()) {
      if (!Contains(inst->find(m.first), m.second)) return false;
    }
    return true;
  }
  if (pattern.is_array()) {
    if (!inst->is_array()) return false;
    for (const json::Value& p : pattern.array()) {
      bool any = false;
      for (const json::Value& i : inst->array()) {
        if (Contains(&i, p)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return true;
  }
  return *inst == pattern;
}

class Walker {
 public:
  Walker(const json::Value& resource, const ProfileRegistry& registry, const fhir::Model& model,
         const ValidateProfilesOptions& options, std::vector<Issue>& issues)
      : resource_(resource), registry_(registry), model_(model), options_(options),
        issues_(issues) {}

  void ValidateAgainst(const Profile& profile, const Inst& inst) {
    const std::string* saved = profile_url_;
    profile_url_ = &profile.url();
    CheckItem(profile.root(), inst, 0);
    profile_url_ = saved;
  }

  // Every extension in the resource whose definition the registry has.
  void CheckExtensions(const json::Value& v, const fhir::TypeDef* type, const std::string& loc,
                       int depth) {
    if (stopped_ || depth > 64 || !v.is_object() || type == nullptr) return;
    for (const json::Member& m : v.object()) {
      bool companion = !m.first.empty() && m.first[0] == '_';
      std::string_view name = companion ? std::string_view(m.first).substr(1) : m.first;
      if (name == "resourceType") continue;
      fhir::TypeDef::Match match = type->Find(name);
      if (match.element == nullptr) continue;  // unknown: the structural validator's job
      const fhir::ElementDef& el = *match.element;
      const fhir::TypeDef* child = el.type;
      if (child == nullptr && match.type != nullptr) child = model_.Type(match.type->code);
      if (companion) child = model_.Type("Element");
      std::string child_loc = loc + "." + el.name;
      if (el.choice && match.type != nullptr) child_loc += ".ofType(" + match.type->code + ")";
      bool ext_array = !companion && (name == "extension" || name == "modifierExtension") &&
                       m.second.is_array();
      if (ext_array) CheckExtensionArray(m.second, child_loc);
      auto visit = [&](const json::Value& item, const std::string& item_loc) {
        const fhir::TypeDef* t = child;
        if (item.is_object() && item.find("resourceType") != nullptr) {
          t = model_.Type(item.get_string("resourceType"));
        }
        CheckExtensions(item, t, item_loc, depth + 1);
      };
      if (m.second.is_array()) {
        for (size_t i = 0; i < m.second.array().size(); ++i) {
          visit(m.second.array()[i], child_loc + "[" + std::to_string(i) + "]");
        }
      } else {
        visit(m.second, child_loc);
      }
    }
  }

 private:
  void Add(Severity severity, std::string type, std::string code, const ElementNode& def,
           const std::string& what, std::string loc) {
    if (stopped_) return;
    if (issues_.size() >= options_.max_issues) {
      issues_.push_back(Issue{Severity::kError, "too-costly", "GM-PROF-070",
                              "too many issues; profile validation stopped", loc});
      stopped_ = true;
      return;
    }
    issues_.push_back(Issue{severity, std::move(type), std::move(code),
                            "Profile " + *profile_url_ + ", element " + def.id + ": " + what,
                            std::move(loc)});
  }

  void CheckExtensionArray(const json::Value& arr, const std::string& loc) {
    std::unordered_map<std::string, std::vector<size_t>> by_url;
    for (size_t i = 0; i < arr.array().size(); ++i) {
      const json::Value& ext = arr.array()[i];
      std::string_view url = ext.get_string("url");
      if (url.empty()) continue;
      auto def = registry_.Find(url);
      if (def == nullptr || !def->is_extension()) continue;
      by_url[std::string(url)].push_back(i);
      Inst inst{&ext, nullptr, "Extension", model_.Type("Extension"),
                loc + "[" + std::to_string(i) + "]"};
      ValidateAgainst(*def, inst);
    }
    for (const auto& [url, positions] : by_url) {
      auto def = registry_.Find(url);
      const ElementNode& root = def->root();
      if (root.max >= 0 && positions.size() > static_cast<size_t>(root.max)) {
        const std::string* saved = profile_url_;
        profile_url_ = &def->url();
        Add(Severity::kError, "structure", "GM-PROF-041", root,
            "the extension occurs " + std::to_string(positions.size()) +
                " times on one element; its definition allows at most " +
                std::to_string(root.max),
            loc + "[" + std::to_string(positions[root.max]) + "]");
        profile_url_ = saved;
      }
    }
  }

  // The type code of a choice suffix ("String" → "string", "Quantity" → "Quantity").
  std::string ChoiceType(std::string_view suffix) const {
    if (const fhir::TypeDef* t = model_.Type(suffix); t != nullptr && !t->IsPrimitive()) {
      return std::string(suffix);
    }
    std::string lower(suffix);
    lower[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower[0])));
    if (model_.Type(lower) != nullptr) return lower;
    return std::string(suffix);
  }

  void Expand(const json::Value* value, const json::Value* companion, const std::string& type,
              const fhir::TypeDef* type_def, const std::string& loc, std::vector<Inst>& out) const {
    if (value != nullptr && value->is_array()) {
      const json::Array& a = value->array();
      for (size_t i = 0; i < a.size(); ++i) {
        const json::Value* c = nullptr;
        if (companion != nullptr && companion->is_array() && i < companion->array().size() &&
            !companion->array()[i].is_null()) {
          c = &companion->array()[i];
        }
        const json::Value* v = a[i].is_null() ? nullptr : &a[i];
        if (v == nullptr && c == nullptr) continue;
        out.push_back(Inst{v, c, type, type_def, loc + "[" + std::to_string(i) + "]"});
      }
      return;
    }
    if (value == nullptr && companion != nullptr && companion->is_array()) {
      for (size_t i = 0; i < companion->array().size(); ++i) {
        if (companion->array()[i].is_null()) continue;
        out.push_back(Inst{nullptr, &companion->array()[i], type, type_def,
                           loc + "[" + std::to_string(i) + "]"});
      }
      return;
    }
    if (value == nullptr && companion == nullptr) return;
    out.push_back(Inst{value, companion, type, type_def, loc});
  }

  // The instances of child element `c` of `item`.
  std::vector<Inst> Collect(const Inst& item, const ElementNode& c) const {
    std::vector<Inst> out;
    const json::Value* obj = item.node;
    if (obj == nullptr || !obj->is_object()) {
      // A primitive: only id and extension, from its companion.
      if (c.name != "extension" && c.name != "id") return out;
      obj = item.companion;
      if (obj == nullptr || !obj->is_object()) return out;
    }
    if (c.choice) {
      for (const json::Member& m : obj->object()) {
        const std::string& k = m.first;
        if (k.size() <= c.name.size() || k.compare(0, c.name.size(), c.name) != 0 ||
            !std::isupper(static_cast<unsigned char>(k[c.name.size()]))) {
          continue;
        }
        std::string type = ChoiceType(std::string_view(k).substr(c.name.size()));
        Expand(&m.second, obj->find("_" + k), type, model_.Type(type),
               item.loc + "." + c.name + ".ofType(" + type + ")", out);
      }
      return out;
    }
    const json::Value* v = obj->find(c.name);
    const json::Value* comp = nullptr;
    for (const json::Member& m : obj->object()) {
      if (m.first.size() == c.name.size() + 1 && m.first[0] == '_' &&
          m.first.compare(1, std::string::npos, c.name) == 0) {
        comp = &m.second;
      }
    }
    if (v == nullptr && comp == nullptr) return out;
    std::string base = item.loc + "." + c.name;
    std::string type;
    if (c.model_element != nullptr && c.model_element->types.size() == 1) {
      type = c.model_element->types[0].code;
    } else if (c.types.size() == 1) {
      type = c.types[0].code;
    }
    const fhir::TypeDef* type_def = c.model_type != nullptr ? c.model_type : model_.Type(type);
    size_t first = out.size();
    Expand(v, comp, type, type_def, base, out);
    if (type == "Resource") {
      for (size_t i = first; i < out.size(); ++i) {
        if (out[i].node != nullptr) {
          out[i].type = std::string(out[i].node->get_string("resourceType"));
          out[i].type_def = model_.Type(out[i].type);
        }
      }
    }
    return out;
  }

  // Values at a simple dotted path below an instance ($this when empty).
  std::vector<const json::Value*> Navigate(const Inst& item,
                                           const std::vector<std::string>& path) const {
    std::vector<const json::Value*> cur;
    if (item.node != nullptr) cur.push_back(item.node);
    for (const std::string& seg : path) {
      std::vector<const json::Value*> next;
      auto push = [&](const json::Value& v) {
        if (v.is_array()) {
          for (const json::Value& x : v.array()) {
            if (!x.is_null()) next.push_back(&x);
          }
        } else if (!v.is_null()) {
          next.push_back(&v);
        }
      };
      for (const json::Value* v : cur) {
        if (!v->is_object()) continue;
        if (const json::Value* f = v->find(seg)) {
          push(*f);
          continue;
        }
        for (const json::Member& m : v->object()) {
          if (m.first.size() > seg.size() && m.first.compare(0, seg.size(), seg) == 0 &&
              std::isupper(static_cast<unsigned char>(m.first[seg.size()]))) {
            push(m.second);
          }
        }
      }
      cur = std::move(next);
    }
    return cur;
  }

  static const ElementNode* SliceElement(const ElementNode& slice,
                                         const std::vector<std::string>& path) {
    const ElementNode* n = &slice;
    for (const std::string& seg : path) {
      const ElementNode* next = nullptr;
      for (const auto& c : n->EffectiveChildren()) {
        if (c->name == seg) next = c.get();
      }
      if (next == nullptr) return nullptr;
      n = next;
    }
    return n;
  }

  bool Matches(const ElementNode& sliced, const ElementNode& slice, const Inst& item) const {
    if (sliced.discriminators.empty()) return false;
    for (const Discriminator& d : sliced.discriminators) {
      switch (d.kind) {
        case Discriminator::Kind::kValue:
        case Discriminator::Kind::kPattern: {
          const ElementNode* at = SliceElement(slice, d.path);
          const json::Value* expected = nullptr;
          bool pattern = d.kind == Discriminator::Kind::kPattern;
          json::Value holder;
          if (at != nullptr && at->fixed) {
            expected = &*at->fixed;
          } else if (at != nullptr && at->pattern) {
            expected = &*at->pattern;
            pattern = true;
          } else if (d.path.size() == 1 && d.path[0] == "url" && slice.types.size() == 1 &&
                     slice.types[0].code == "Extension" && slice.types[0].profiles.size() == 1) {
            // An extension slice: the url is the extension definition's.
            holder = json::Value(slice.types[0].profiles[0]);
            expected = &holder;
          }
          if (expected == nullptr) return false;
          std::vector<const json::Value*> values = Navigate(item, d.path);
          if (values.empty()) return false;
          if (pattern) {
            if (std::none_of(values.begin(), values.end(),
                             [&](const json::Value* v) { return Contains(v, *expected); })) {
              return false;
            }
          } else if (!std::all_of(values.begin(), values.end(),
                                  [&](const json::Value* v) { return *v == *expected; })) {
            return false;
          }
          break;
        }
        case Discriminator::Kind::kExists: {
          const ElementNode* at = SliceElement(slice, d.path);
          if (at == nullptr) return false;
          bool exists = !Navigate(item, d.path).empty();
          if (at->min >= 1 && !exists) return false;
          if (at->max == 0 && exists) return false;
          break;
        }
        case Discriminator::Kind::kType: {
          if (!d.path.empty()) return false;
          const ElementNode* at = &slice;
          if (std::none_of(at->types.begin(), at->types.end(),
                           [&](const internal::TypeSpec& t) { return t.code == item.type; })) {
            return false;
          }
          break;
        }
        default:
          return false;
      }
    }
    return true;
  }

  void CheckSlicing(const ElementNode& c, const std::vector<Inst>& items,
                    const std::string& parent_loc, int depth) {
    std::vector<int> match(items.size(), -1);
    std::vector<std::vector<size_t>> members(c.slices.size());
    for (size_t i = 0; i < items.size(); ++i) {
      for (size_t s = 0; s < c.slices.size(); ++s) {
        if (Matches(c, *c.slices[s], items[i])) {
          match[i] = static_cast<int>(s);
          members[s].push_back(i);
          break;
        }
      }
    }
    std::string element_loc = parent_loc + "." + c.name;
    for (size_t s = 0; s < c.slices.size(); ++s) {
      const ElementNode& slice = *c.slices[s];
      size_t n = members[s].size();
      if (static_cast<int>(n) < slice.min) {
        Add(Severity::kError, "required", "GM-PROF-030", slice,
            "slice '" + slice.slice_name + "' needs at least " + std::to_string(slice.min) +
                " item(s), found " + std::to_string(n),
            element_loc);
      }
      if (slice.max >= 0 && n > static_cast<size_t>(slice.max)) {
        Add(Severity::kError, "structure", "GM-PROF-031", slice,
            "slice '" + slice.slice_name + "' allows at most " + std::to_string(slice.max) +
                " item(s), found " + std::to_string(n),
            items[members[s][slice.max]].loc);
      }
    }
    bool unmatched_seen = false;
    int last = -1;
    for (size_t i = 0; i < items.size(); ++i) {
      if (match[i] < 0) {
        if (c.rules == "closed") {
          Add(Severity::kError, "structure", "GM-PROF-032", c,
              "closed slicing: the item matches none of the slices", items[i].loc);
        }
        unmatched_seen = true;
        continue;
      }
      if (c.rules == "openAtEnd" && unmatched_seen) {
        Add(Severity::kError, "structure", "GM-PROF-033", c,
            "openAtEnd slicing: an item of slice '" + c.slices[match[i]]->slice_name +
                "' after an item that matches no slice",
            items[i].loc);
      }
      if (c.ordered && match[i] < last) {
        Add(Severity::kError, "structure", "GM-PROF-033", c,
            "ordered slicing: an item of slice '" + c.slices[match[i]]->slice_name +
                "' after items of a later slice",
            items[i].loc);
      }
      last = std::max(last, match[i]);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (match[i] >= 0) CheckItem(*c.slices[match[i]], items[i], depth + 1);
    }
  }

  void CheckCardinality(const ElementNode& c, const std::vector<Inst>& items,
                        const std::string& parent_loc) {
    size_t n = items.size();
    if (c.max == 0) {
      if (n > 0) {
        Add(Severity::kError, "structure", "GM-PROF-022", c, "the profile prohibits this element",
            items[0].loc);
      }
    } else if (c.max > 0 && n > static_cast<size_t>(c.max) &&
               (c.base_max < 0 || c.max < c.base_max)) {
      Add(Severity::kError, "structure", "GM-PROF-021", c,
          "at most " + std::to_string(c.max) + " allowed by the profile, found " +
              std::to_string(n),
          items[c.max].loc);
    }
    if (static_cast<int>(n) < c.min && c.min > c.base_min) {
      Add(Severity::kError, "required", "GM-PROF-020", c,
          "at least " + std::to_string(c.min) + " required by the profile, found " +
              std::to_string(n),
          parent_loc + "." + c.name);
    }
  }

  void CheckBinding(const ElementNode& def, const Inst& item) {
    const std::string& vs = def.required_valueset;
    if (item.node == nullptr || !registry_.HasValueSet(vs)) return;
    auto fail = [&](const std::string& what) {
      Add(Severity::kError, "code-invalid", "GM-PROF-050", def,
          what + " of the required value set " + vs, item.loc);
    };
    if (item.node->is_string()) {
      if (registry_.ValueSetContains(vs, "", item.node->str()) == false) fail("a code not");
      return;
    }
    if (!item.node->is_object()) return;
    auto coding_in = [&](const json::Value& c) -> std::optional<bool> {
      std::string_view code = c.get_string("code");
      if (code.empty()) return std::nullopt;
      return registry_.ValueSetContains(vs, c.get_string("system"), code);
    };
    if (item.type == "Coding") {
      if (coding_in(*item.node) == false) fail("a coding not");
      return;
    }
    if (item.type == "CodeableConcept") {
      const json::Value* codings = item.node->find("coding");
      if (codings == nullptr || !codings->is_array() || codings->empty()) {
        fail("no coding");
        return;
      }
      for (const json::Value& c : codings->array()) {
        if (coding_in(c) != false) return;
      }
      fail("no coding");
    }
  }

  void CheckTargets(const ElementNode& def, const Inst& item) {
    if (item.node == nullptr || !item.node->is_object()) return;
    std::unordered_set<std::string> allowed;
    for (const internal::TypeSpec& t : def.types) {
      if (t.code != "Reference") continue;
      for (const std::string& tp : t.target_profiles) {
        if (tp.rfind(kCorePrefix, 0) == 0) {
          // Versioned canonicals ("…/Observation|4.0.1", as NILAR's snapshots
          // write them) name the same core type.
          std::string type = tp.substr(kCorePrefix.size());
          allowed.insert(type.substr(0, type.find('|')));
        } else if (auto p = registry_.Find(tp)) {
          allowed.insert(p->type());
        } else {
          return;  // a target profile not known here: cannot decide
        }
      }
    }
    if (allowed.empty() || allowed.count("Resource")) return;
    std::string type(item.node->get_string("type"));
    if (type.empty()) {
      std::string_view ref = item.node->get_string("reference");
      if (ref.empty() || ref[0] == '#') return;
      size_t h = ref.find("/_history/");
      if (h != ref.npos) ref = ref.substr(0, h);
      size_t slash = ref.rfind('/');
      if (slash == ref.npos) return;
      std::string_view head = ref.substr(0, slash);
      size_t prev = head.rfind('/');
      type = std::string(prev == head.npos ? head : head.substr(prev + 1));
      if (!model_.IsResourceType(type)) return;
    }
    if (!allowed.count(type)) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      std::sort(names.begin(), names.end());
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      Add(Severity::kError, "invalid", "GM-PROF-026", def,
          "reference to a " + type + "; the profile allows " + list, item.loc);
    }
  }

  void CheckInvariants(const ElementNode& def, const Inst& item) {
    if (def.invariants.empty()) return;
    fhirpath::EvalOptions eval;
    eval.resource = &resource_;
    eval.root_resource = &resource_;
    eval.max_steps = options_.max_steps;
    if (item.type_def != nullptr && item.type_def->kind != fhir::TypeKind::kResource) {
      eval.input_type = item.type_def->name;
    }
    for (const internal::Invariant& inv : def.invariants) {
      std::string failure = inv.compile_failure;
      bool violated = false;
      if (inv.expression) {
        auto result = item.node != nullptr ? inv.expression->Evaluate(*item.node, eval)
                                           : inv.expression->Evaluate(fhirpath::Collection(), eval);
        if (!result.ok()) {
          failure = result.status().code();
        } else {
          auto b = fhirpath::ToBoolean(*result);
          if (!b.ok()) {
            failure = b.status().code();
          } else {
            violated = b->has_value() && !**b;
          }
        }
      } else if (failure.empty()) {
        failure = "GM-FP-010";
      }
      if (!failure.empty()) {
        Add(Severity::kWarning, "invariant", "GM-PROF-062", def,
            inv.key + ": constraint could not be evaluated (" + failure + ")", item.loc);
      } else if (violated) {
        bool error = inv.severity == "error";
        Add(error ? Severity::kError : Severity::kWarning, "invariant",
            error ? "GM-PROF-060" : "GM-PROF-061", def, inv.key + ": " + inv.human, item.loc);
      }
    }
  }

  // Datatype profiles on the element's type (Extension profiles are checked
  // by url in CheckExtensions). The item must conform to one of them.
  void CheckTypeProfiles(const ElementNode& def, const Inst& item, int depth) {
    for (const internal::TypeSpec& t : def.types) {
      if (t.profiles.empty() || t.code == "Extension" || t.code != item.type) continue;
      std::vector<std::shared_ptr<const Profile>> known;
      for (const std::string& url : t.profiles) {
        if (auto p = registry_.Find(url); p && p->type() == item.type && !p->is_extension()) {
          known.push_back(std::move(p));
        }
      }
      if (known.empty()) continue;
      std::vector<Issue> first;
      for (size_t k = 0; k < known.size(); ++k) {
        size_t mark = issues_.size();
        const std::string* saved = profile_url_;
        profile_url_ = &known[k]->url();
        CheckItem(known[k]->root(), item, depth + 1);
        profile_url_ = saved;
        bool errors = std::any_of(issues_.begin() + mark, issues_.end(), [](const Issue& i) {
          return i.severity == Severity::kError || i.severity == Severity::kFatal;
        });
        // Conforms to this one (its warnings stay), or the only one: done.
        if (!errors || known.size() == 1) return;
        if (k == 0) first.assign(issues_.begin() + mark, issues_.end());
        issues_.resize(mark);
      }
      // Conforms to none: report against the first.
      issues_.insert(issues_.end(), first.begin(), first.end());
    }
  }

  void CheckItem(const ElementNode& def, const Inst& item, int depth) {
    if (stopped_) return;
    if (depth > 200) return;
    if (def.fixed && (item.node == nullptr || *item.node != *def.fixed)) {
      Add(Severity::kError, "value", "GM-PROF-023", def,
          "the value must be exactly the profile's " + def.fixed_key + " " +
              Shorten(json::Write(*def.fixed)),
          item.loc);
    }
    if (def.pattern && !Contains(item.node, *def.pattern)) {
      Add(Severity::kError, "value", "GM-PROF-024", def,
          "the value must contain the profile's " + def.pattern_key + " " +
              Shorten(json::Write(*def.pattern)),
          item.loc);
    }
    if (!def.required_valueset.empty()) CheckBinding(def, item);
    if (def.check_targets && item.type == "Reference") CheckTargets(def, item);
    CheckTypeProfiles(def, item, depth);
    CheckInvariants(def, item);

    for (const auto& cp : def.EffectiveChildren()) {
      const ElementNode& c = *cp;
      std::vector<Inst> items = Collect(item, c);
      CheckCardinality(c, items, item.loc);
      if (c.choice && !c.types.empty()) {
        bool ext_value = c.path.rfind("Extension", 0) == 0 && c.name == "value";
        for (const Inst& it : items) {
          if (std::none_of(c.types.begin(), c.types.end(),
                           [&](const internal::TypeSpec& t) { return t.code == it.type; })) {
            std::string list;
            for (const auto& t : c.types) list += (list.empty() ? "" : ", ") + t.code;
            Add(Severity::kError, "structure", ext_value ? "GM-PROF-040" : "GM-PROF-025", c,
                "type " + it.type + " is not allowed; allowed: " + Shorten(list), it.loc);
          }
        }
      }
      if (c.max != 0) {
        for (const Inst& it : items) CheckItem(c, it, depth + 1);
      }
      if (c.sliced && !c.slices.empty()) CheckSlicing(c, items, item.loc, depth);
    }
  }

  const json::Value& resource_;
  const ProfileRegistry& registry_;
  const fhir::Model& model_;
  const ValidateProfilesOptions& options_;
  std::vector<Issue>& issues_;
  const std::string* profile_url_ = nullptr;
  bool stopped_ = false;
};

}  // namespace

ProfileValidation CheckProfiles(const json::Value& resource, const ProfileRegistry& registry,
                                const fhir::Model& model,
                                const std::vector<std::string>& extra_profiles,
                                const ValidateProfilesOptions& options) {
  ProfileValidation out;
  std::vector<Issue> issues;
  std::string rt(resource.get_string("resourceType"));
  const fhir::TypeDef* type = model.Type(rt);
  if (!resource.is_object() || type == nullptr) return out;  // the structural validator's job

  Walker walker(resource, registry, model, options, issues);
  Inst root{&resource, nullptr, rt, type, rt};
  std::vector<const Profile*> done;
  auto run = [&](const std::shared_ptr<const Profile>& p, const std::string& loc) {
    if (std::find(done.begin(), done.end(), p.get()) != done.end()) return;
    done.push_back(p.get());
    if (p->type() != rt) {
      issues.push_back(Issue{Severity::kError, "invalid", "GM-PROF-012",
                             "Profile " + p->url() + " constrains " + p->type() + ", not " + rt,
                             loc});
      return;
    }
    walker.ValidateAgainst(*p, root);
  };
  if (const json::Value* meta = resource.find("meta"); meta && meta->is_object()) {
    if (const json::Value* profiles = meta->find("profile"); profiles && profiles->is_array()) {
      for (size_t i = 0; i < profiles->array().size(); ++i) {
        const json::Value& url = profiles->array()[i];
        if (!url.is_string()) continue;
        std::string loc = rt + ".meta.profile[" + std::to_string(i) + "]";
        auto p = registry.Find(url.str());
        if (p == nullptr) {
          issues.push_back(Issue{Severity::kWarning, "not-supported", "GM-PROF-010",
                                 "Profile " + Shorten(url.str(), 200) +
                                     " is not known to this server; not validated against it",
                                 loc});
          continue;
        }
        run(p, loc);
      }
    }
  }
  for (const std::string& url : extra_profiles) {
    auto p = registry.Find(url);
    if (p == nullptr) {
      issues.push_back(Issue{Severity::kError, "not-found", "GM-PROF-011",
                             "Profile " + Shorten(url, 200) + " is not known to this server", rt});
      continue;
    }
    run(p, rt);
  }
  walker.CheckExtensions(resource, type, rt, 0);

  bool failed = false;
  for (const Issue& i : issues) {
    if (i.severity == Severity::kError || i.severity == Severity::kFatal) {
      failed = true;
    } else {
      out.warnings.push_back(i);
    }
  }
  if (failed) out.status = Status(ErrorCategory::kUnprocessable, std::move(issues));
  return out;
}

Status ValidateProfiles(const json::Value& resource, const ProfileRegistry& registry,
                        const fhir::Model& model, const std::vector<std::string>& extra_profiles) {
  ProfileValidation v = CheckProfiles(resource, registry, model, extra_profiles);
  if (!v.status.ok()) return std::move(v.status);
  if (v.warnings.empty()) return Status::Ok();
  return Status(ErrorCategory::kOk, std::move(v.warnings));
}

}  // namespace gm::profile
