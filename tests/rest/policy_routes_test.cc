// Every route (Route enum × HTTP methods × access modes) has a policy rule;
// no person ever gets the "scopes decide" rule of operator/EHR systems.
// The server-side half (every route answered through DecideRequest) is in
// tests/integration/authz_matrix_test.cc (EveryRouteIsDecided).
#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "rest/auth.h"
#include "rest/request.h"

namespace gm::rest {
namespace {

constexpr int kRouteCount = 17;
static_assert(static_cast<int>(Route::kMetrics) == kRouteCount - 1,
              "a route was added: give it a policy rule and extend this test");

const char* const kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

Target Example(Route route) {
  Target t;
  t.route = route;
  switch (route) {
    case Route::kType:
    case Route::kTypeSearch:
    case Route::kTypeHistory:
      t.type = "Observation";
      break;
    case Route::kTypeOperation:
      t.type = "Observation";
      t.operation = "validate";
      break;
    case Route::kInstance:
    case Route::kInstanceHistory:
      t.type = "Observation";
      t.id = "o1";
      break;
    case Route::kVersion:
      t.type = "Observation";
      t.id = "o1";
      t.version = "1";
      break;
    case Route::kInstanceOperation:
      t.type = "Patient";
      t.id = "p1";
      t.operation = "everything";
      break;
    case Route::kCompartmentSearch:
      t.type = "Patient";
      t.id = "p1";
      t.compartment_type = "Observation";
      break;
    case Route::kSystemOperation:
      t.operation = "export";
      break;
    default:
      break;
  }
  return t;
}

TEST(PolicyRoutes, EveryRouteMethodAndModeHasARule) {
  const std::set<RouteRule> person_rules = {
      RouteRule::kPublic,         RouteRule::kNoData,        RouteRule::kAddressed,
      RouteRule::kAddressedWrite, RouteRule::kCreate,        RouteRule::kPatientSearch,
      RouteRule::kCompartment,    RouteRule::kConditionalWrite, RouteRule::kBundle,
      RouteRule::kDenied};
  int checked = 0;
  for (int r = 0; r < kRouteCount; ++r) {
    const Route route = static_cast<Route>(r);
    const Target t = Example(route);
    const bool is_public = route == Route::kMetadata || route == Route::kHealth ||
                           route == Route::kReady || route == Route::kMetrics;
    for (const char* m : kMethods) {
      for (AccessMode mode : {AccessMode::kUser, AccessMode::kPatient}) {
        RouteRule rule = RouteRuleFor(t, m, mode, false);
        EXPECT_TRUE(person_rules.count(rule)) << r << " " << m;
        EXPECT_EQ(rule == RouteRule::kPublic, is_public) << r << " " << m;
        ++checked;
      }
      RouteRule sys = RouteRuleFor(t, m, AccessMode::kSystem, false);
      RouteRule restricted = RouteRuleFor(t, m, AccessMode::kSystem, true);
      EXPECT_EQ(sys == RouteRule::kPublic, is_public);
      EXPECT_NE(restricted, RouteRule::kSystemAsToday) << r << " " << m;
      if (!is_public && sys != RouteRule::kNoData) {
        EXPECT_EQ(sys, RouteRule::kSystemAsToday) << r << " " << m;
        EXPECT_TRUE(restricted == RouteRule::kSystemByType || restricted == RouteRule::kDenied)
            << r << " " << m;
      }
      checked += 2;
    }
  }
  EXPECT_EQ(checked, kRouteCount * 7 * 4);
}

TEST(PolicyRoutes, PeopleNeverUseCrossPatientRoutes) {
  for (AccessMode mode : {AccessMode::kUser, AccessMode::kPatient}) {
    for (Route route : {Route::kSystem, Route::kSystemHistory, Route::kSystemSearch,
                        Route::kTypeHistory}) {
      for (const char* m : kMethods) {
        // POST [base] is a batch/transaction: each entry decided as if alone.
        const RouteRule expected = route == Route::kSystem && std::string_view(m) == "POST"
                                       ? RouteRule::kBundle
                                       : RouteRule::kDenied;
        EXPECT_EQ(RouteRuleFor(Example(route), m, mode, false), expected)
            << static_cast<int>(route) << " " << m;
      }
    }
    // Conditional update/delete: the criteria must name one patient; PATCH is
    // decided on the current version and checked again inside the write.
    EXPECT_EQ(RouteRuleFor(Example(Route::kType), "PUT", mode, false),
              RouteRule::kConditionalWrite);
    EXPECT_EQ(RouteRuleFor(Example(Route::kType), "DELETE", mode, false),
              RouteRule::kConditionalWrite);
    EXPECT_EQ(RouteRuleFor(Example(Route::kType), "PATCH", mode, false), RouteRule::kDenied);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstance), "PATCH", mode, false),
              RouteRule::kAddressedWrite);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstance), "PUT", mode, false),
              RouteRule::kAddressedWrite);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstance), "DELETE", mode, false),
              RouteRule::kAddressedWrite);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstance), "POST", mode, false), RouteRule::kDenied);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstance), "GET", mode, false), RouteRule::kAddressed);
    EXPECT_EQ(RouteRuleFor(Example(Route::kVersion), "GET", mode, false), RouteRule::kAddressed);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstanceHistory), "GET", mode, false),
              RouteRule::kAddressed);
    EXPECT_EQ(RouteRuleFor(Example(Route::kType), "GET", mode, false), RouteRule::kPatientSearch);
    EXPECT_EQ(RouteRuleFor(Example(Route::kTypeSearch), "POST", mode, false),
              RouteRule::kPatientSearch);
    EXPECT_EQ(RouteRuleFor(Example(Route::kCompartmentSearch), "GET", mode, false),
              RouteRule::kCompartment);
    EXPECT_EQ(RouteRuleFor(Example(Route::kInstanceOperation), "GET", mode, false),
              RouteRule::kCompartment);
  }
  Target log = Example(Route::kInstanceOperation);
  log.operation = "access-log";
  EXPECT_EQ(RouteRuleFor(log, "GET", AccessMode::kPatient, false), RouteRule::kCompartment);
  EXPECT_EQ(RouteRuleFor(log, "GET", AccessMode::kUser, false), RouteRule::kDenied);
  EXPECT_EQ(RouteRuleFor(log, "GET", AccessMode::kSystem, false), RouteRule::kDenied);
  // Other operations (prøvesvar, unknown): only operator/EHR systems.
  for (Route route : {Route::kTypeOperation, Route::kInstanceOperation, Route::kSystemOperation}) {
    Target op = Example(route);
    op.type = route == Route::kSystemOperation ? "" : "Observation";
    op.operation = route == Route::kSystemOperation ? "svarrapport" : "unknown";
    EXPECT_EQ(RouteRuleFor(op, "POST", AccessMode::kUser, false), RouteRule::kDenied);
    EXPECT_EQ(RouteRuleFor(op, "POST", AccessMode::kPatient, false), RouteRule::kDenied);
    EXPECT_EQ(RouteRuleFor(op, "POST", AccessMode::kSystem, true), RouteRule::kDenied);
    EXPECT_EQ(RouteRuleFor(op, "POST", AccessMode::kSystem, false), RouteRule::kSystemAsToday);
  }
  // E-resept (docs/eresept.md): who reaches which operation, and how it is decided.
  struct Case {
    Route route;
    const char* type;
    const char* op;
    const char* method;
    RouteRule user, patient, restricted_system, system;
  } cases[] = {
      {Route::kTypeOperation, "MedicationRequest", "prescribe", "POST", RouteRule::kCreate,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kTypeOperation, "MedicationRequest", "dispensable", "POST", RouteRule::kDenied,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "MedicationRequest", "lock", "POST", RouteRule::kDenied,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "MedicationRequest", "release", "POST", RouteRule::kDenied,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "MedicationRequest", "dispense", "POST", RouteRule::kDenied,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "MedicationRequest", "recall", "POST", RouteRule::kAddressedWrite,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "MedicationRequest", "renew", "POST", RouteRule::kAddressedWrite,
       RouteRule::kDenied, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "Patient", "medication-list", "GET", RouteRule::kCompartment,
       RouteRule::kCompartment, RouteRule::kSystemByType, RouteRule::kSystemAsToday},
      {Route::kInstanceOperation, "Patient", "medication-list-update", "POST",
       RouteRule::kCompartment, RouteRule::kDenied, RouteRule::kSystemByType,
       RouteRule::kSystemAsToday},
  };
  for (const Case& c : cases) {
    Target op = Example(c.route);
    op.type = c.type;
    op.operation = c.op;
    EXPECT_EQ(RouteRuleFor(op, c.method, AccessMode::kUser, false), c.user) << c.op;
    EXPECT_EQ(RouteRuleFor(op, c.method, AccessMode::kPatient, false), c.patient) << c.op;
    EXPECT_EQ(RouteRuleFor(op, c.method, AccessMode::kSystem, true), c.restricted_system) << c.op;
    EXPECT_EQ(RouteRuleFor(op, c.method, AccessMode::kSystem, false), c.system) << c.op;
  }
}

TEST(PolicyRoutes, AuditInteractionNamesEveryDataRoute) {
  for (int r = 0; r < kRouteCount; ++r) {
    const Route route = static_cast<Route>(r);
    if (route == Route::kMetadata || route == Route::kHealth || route == Route::kReady ||
        route == Route::kMetrics || route == Route::kTypeOperation) {
      EXPECT_EQ(AuditInteraction(Example(route), "GET"), "") << r;
      continue;
    }
    EXPECT_NE(AuditInteraction(Example(route), "GET"), "") << r;
  }
  EXPECT_EQ(AuditInteraction(Example(Route::kType), "POST"), "create");
  EXPECT_EQ(AuditInteraction(Example(Route::kSystem), "POST"), "transaction");
  EXPECT_EQ(AuditInteraction(Example(Route::kInstance), "DELETE"), "delete");
  Target prescribe = Example(Route::kTypeOperation);
  prescribe.operation = "prescribe";
  EXPECT_EQ(AuditInteraction(prescribe, "POST"), "operation");
}

}  // namespace
}  // namespace gm::rest
