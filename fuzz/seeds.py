#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into OUT/<target>/ from ../shared/conformance
and the project's own fixtures (generated, not committed)."""
import glob, hashlib, html, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.environ.get("GM_SHARED_DIR", os.path.join(os.path.dirname(root), "shared"))
out = sys.argv[1]
counts = {}

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1

conf = os.path.join(shared, "conformance")
for p in sorted(glob.glob(os.path.join(conf, "examples-r4", "*.json"))):
    put("fuzz_json", open(p, "rb").read())

xml = open(os.path.join(conf, "fhirpath", "tests-fhir-r4.xml"), encoding="utf-8").read()
for e in re.findall(r"<expression[^>]*>(.*?)</expression>", xml, re.S):
    put("fuzz_fhirpath", html.unescape(e))

patch_cases = json.load(open(os.path.join(root, "tests", "patch", "fhir-patch-tests.json")))
for c in patch_cases["cases"]:
    put("fuzz_fhirpath_patch", json.dumps(c["diff"]))
    if "input" in c:
        put("fuzz_json", json.dumps(c["input"]))
for c in json.load(open(os.path.join(conf, "patch", "json-patch-tests.json"))):
    if isinstance(c, dict) and "patch" in c:
        put("fuzz_json_patch", json.dumps(c["patch"]))

types = ["", "Patient", "Observation", "Encounter", "Condition", "MedicationRequest",
         "Practitioner", "Organization"]
queries = set()
for p in glob.glob(os.path.join(root, "tests", "**", "*.cc"), recursive=True):
    for m in re.findall(r'"/([A-Z][A-Za-z]*)?\?([^"\s]+)"', open(p, encoding="utf-8").read()):
        queries.add(m)
for t, q in sorted(queries):
    i = types.index(t) if t in types else 1
    put("fuzz_search", bytes([i]) + q.encode())
for q in ["name=Sørgård&birthdate=ge1970-01-01&_sort=-birthdate&_count=10",
          "subject:Patient.identifier=urn:oid:2.16.578.1.12.4.1.4.1|01010112345",
          "_has:Observation:subject:code=http://loinc.org|1234-5&_include=Patient:organization",
          "code-value-quantity=http://loinc.org|8480-6$gt100|http://unitsofmeasure.org|mm[Hg]",
          "_text=hjerte&_content=vondt&_total=accurate&_summary=count",
          "value-quantity=ap5.4e-3|http://unitsofmeasure.org|g&date=sa2024-02",
          "_revinclude:iterate=Observation:subject&_elements=id,name&_id=a,b,c"]:
    put("fuzz_search", bytes([2]) + q.encode())

for r in ["GET /Patient/1 HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET /Patient?name=a%20b&_count=5 HTTP/1.1\r\nHost: x\r\nAccept: application/fhir+json\r\n\r\n",
          "POST /Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 27\r\n\r\n{\"resourceType\":\"Patient\"}\n",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
          "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          "PUT /Patient/1 HTTP/1.0\r\nIf-Match: W/\"1\"\r\nContent-Length: 2\r\n\r\n{}",
          "HEAD /metadata HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n",
          "DELETE /Patient/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n"]:
    put("fuzz_http", r)

# JWT / DPoP: mode byte + text (see harness.h, Jwt).
now = 1800000000
for t in ["Bearer eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln", "DPoP a.b.c\na.b.c", "Bearer ", "Basic dXNlcjpwdw=="]:
    put("fuzz_jwt", b"\x00" + t.encode())
for p in [{"iss": "https://grunnmur.test", "aud": "grunnmur", "iat": now, "exp": now + 60, "scope": "patient/Observation.rs launch/patient", "helseid://claims/identity/pid": "01010112345", "cnf": {"jkt": "abc"}},
          {"iss": "https://grunnmur.test", "aud": ["grunnmur", "x"], "exp": "soon", "authorization_details": [{"type": "nhn:tillitsrammeverk:parameters", "practitioner": {"authorization": {"code": "LE"}}, "care_relationship": {"purpose_of_use": {"code": "TREAT"}}}]}]:
    put("fuzz_jwt", b"\x01" + json.dumps(p).encode())
for h in [{"typ": "at+jwt", "kid": "nope"}, {"typ": "JWT", "jku": "https://evil"}, {"typ": "dpop+jwt", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}]:
    put("fuzz_jwt", b"\x02" + json.dumps(h).encode())
for k in [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
          {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, {"kty": "oct", "k": "AA"}]:
    put("fuzz_jwt", b"\x03" + json.dumps(k).encode())
for sc in ["patient/Observation.rs?category=laboratory", "user/*.cruds", "system/Patient.read", "launch/patient"]:
    put("fuzz_jwt", b"\x04" + sc.encode())

# Svarrapport: the real anonymised lab messages.
for p in sorted(glob.glob(os.path.join(shared, "norway", "svarrapport", "samples", "*.xml"))):
    put("fuzz_svarrapport", open(p, "rb").read())

print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
