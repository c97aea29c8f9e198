package docs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rcm-health/rcm/docs"
	"github.com/rcm-health/rcm/pkg/billing"
	"github.com/rcm-health/rcm/pkg/events"
)

const schemaURL = "https://github.com/rcm-health/rcm/docs/visit.schema.json"

// compileSchema compiles the embedded schema with format assertions on:
// draft 2020-12 treats "format" as an annotation unless asked, and a
// date_of_service of 2025-02-30 should fail here as it does in intake.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(docs.VisitSchema()))
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func examples(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := fs.Glob(docs.FS, "examples/*.json")
	if err != nil {
		t.Fatalf("glob examples: %v", err)
	}
	if len(names) < 5 {
		t.Fatalf("found %d examples, want at least 5: %v", len(names), names)
	}
	out := map[string][]byte{}
	for _, name := range names {
		b, err := docs.FS.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		out[path.Base(name)] = b
	}
	return out
}

func decodeStrict(b []byte) (events.Visit, error) {
	var v events.Visit
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, fmt.Errorf("trailing data after the visit (%v)", err)
	}
	return v, nil
}

func TestVisitSchemaIsACopy(t *testing.T) {
	t.Parallel()
	a := docs.VisitSchema()
	a[0] = 'X'
	if docs.VisitSchema()[0] == 'X' {
		t.Fatal("VisitSchema returned shared bytes")
	}
	fromFS, err := docs.FS.ReadFile("visit.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromFS, docs.VisitSchema()) {
		t.Fatal("FS and VisitSchema disagree")
	}
}

func TestExamplesValidate(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	for name, b := range examples(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Fatalf("schema: %v", err)
			}
		})
	}
}

func TestExamplesDecodeIntoVisit(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	catalog := billing.DefaultCatalog()
	for name, b := range examples(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := decodeStrict(b)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status == events.VisitVoided {
				return
			}
			// What the schema cannot check, checked here so that the
			// examples stay usable as-is against intake.
			for _, npi := range exampleNPIs(v) {
				if !billing.ValidNPI(npi) {
					t.Errorf("NPI %s has a wrong check digit", npi)
				}
			}
			for _, dx := range v.Diagnoses {
				if !billing.ValidICD10CM(dx) {
					t.Errorf("diagnosis %q is not ICD-10-CM", dx)
				}
			}
			for _, s := range v.Services {
				if _, ok := catalog.Lookup(s.Code); !ok {
					t.Errorf("service code %s is not in the therapy catalog", s.Code)
				}
			}

			// The Go side must produce what the schema accepts, or
			// visit.recorded would carry visits no EMR could have sent.
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("parse re-encoded: %v", err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Fatalf("re-encoded visit fails the schema: %v", err)
			}
		})
	}
}

func exampleNPIs(v events.Visit) []string {
	npis := []string{v.BillingProvider.NPI, v.RenderingProvider.NPI}
	if a := v.RenderingProvider.Assistant; a != nil && a.NPI != "" {
		npis = append(npis, a.NPI)
	}
	if p := v.CertifyingPhysician; p != nil {
		npis = append(npis, p.NPI)
	}
	return npis
}

func TestExamplesCoverTheCases(t *testing.T) {
	t.Parallel()
	ex := examples(t)
	get := func(name string) events.Visit {
		t.Helper()
		b, ok := ex[name]
		if !ok {
			t.Fatalf("missing example %s", name)
		}
		v, err := decodeStrict(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	if v := get("visit-ot-medicare.json"); v.RenderingProvider.Discipline != events.DisciplineOT || v.Coverage.PlanType != events.PlanMedicarePartB {
		t.Error("visit-ot-medicare.json is not an OT Medicare Part B visit")
	}
	if v := get("visit-pt-commercial-prior-auth.json"); v.RenderingProvider.Discipline != events.DisciplinePT ||
		v.Coverage.PlanType != events.PlanCommercial || v.Coverage.PriorAuthorization == nil {
		t.Error("visit-pt-commercial-prior-auth.json is not a commercial PT visit with a prior authorization")
	}
	if v := get("visit-slp-child-medicaid.json"); v.RenderingProvider.Discipline != events.DisciplineSLP ||
		v.Coverage.PlanType != events.PlanMedicaid || v.Coverage.Relationship != events.RelationshipChild || v.Coverage.Subscriber == nil {
		t.Error("visit-slp-child-medicaid.json is not a Medicaid SLP visit of a child who is not the subscriber")
	}
	if v := get("visit-ot-assistant-telehealth.json"); v.RenderingProvider.Assistant == nil || !v.Telehealth {
		t.Error("visit-ot-assistant-telehealth.json lacks the assistant or telehealth")
	}
	if v := get("visit-void.json"); v.Status != events.VisitVoided || v.Revision < 2 {
		t.Error("visit-void.json is not a void of an earlier revision")
	}
}

// schemaNode is a JSON Schema object; resolve follows local $refs.
type schemaNode = map[string]any

func loadSchemaJSON(t *testing.T) schemaNode {
	t.Helper()
	var root schemaNode
	if err := json.Unmarshal(docs.VisitSchema(), &root); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return root
}

func resolve(t *testing.T, root, n schemaNode) schemaNode {
	t.Helper()
	for range 10 {
		ref, ok := n["$ref"].(string)
		if !ok {
			return n
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			t.Fatalf("$ref %q is not local", ref)
		}
		def, ok := root["$defs"].(schemaNode)[name].(schemaNode)
		if !ok {
			t.Fatalf("$ref %q resolves to nothing", ref)
		}
		n = def
	}
	t.Fatal("$ref chain too long")
	return nil
}

func stringSet(v any) []string {
	var out []string
	for _, s := range asSlice(v) {
		out = append(out, s.(string))
	}
	sort.Strings(out)
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestSchemaMatchesVisitType walks events.Visit and the schema side by side:
// the same property names at every object level, the same JSON types, no
// additional properties, and required exactly where Go always emits a field.
// A field added to one and not the other fails here.
func TestSchemaMatchesVisitType(t *testing.T) {
	t.Parallel()
	root := loadSchemaJSON(t)
	checkObject(t, root, root, reflect.TypeFor[events.Visit](), "$")
}

func checkObject(t *testing.T, root, n schemaNode, typ reflect.Type, at string) {
	t.Helper()
	n = resolve(t, root, n)
	if n["type"] != "object" {
		t.Errorf("%s: schema type %v, want object (Go %s)", at, n["type"], typ)
		return
	}
	if n["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties must be false", at)
	}
	props, _ := n["properties"].(schemaNode)

	var goNames, alwaysEmitted []string
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			t.Errorf("%s: Go field %s.%s has no json name", at, typ.Name(), f.Name)
			continue
		}
		goNames = append(goNames, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			alwaysEmitted = append(alwaysEmitted, name)
		}
		site, ok := props[name].(schemaNode)
		if !ok {
			continue // reported below as a name mismatch
		}
		checkField(t, root, site, f.Type, at+"."+name)
	}
	var schemaNames []string
	for name := range props {
		schemaNames = append(schemaNames, name)
	}
	sort.Strings(goNames)
	sort.Strings(schemaNames)
	if !slices.Equal(goNames, schemaNames) {
		t.Errorf("%s: Go %s has properties %v, schema has %v", at, typ.Name(), goNames, schemaNames)
	}

	// Go omits an omitempty field at its zero value, so the schema must not
	// require it; a field Go always writes is required, if only (at the
	// root) for visits that are not voids.
	required := stringSet(n["required"])
	for _, name := range required {
		if !slices.Contains(alwaysEmitted, name) {
			t.Errorf("%s: schema requires %q, which Go omits when empty", at, name)
		}
	}
	conditional := required
	if e, ok := n["else"].(schemaNode); ok {
		conditional = append(conditional, stringSet(e["required"])...)
	}
	for _, name := range alwaysEmitted {
		if !slices.Contains(conditional, name) {
			t.Errorf("%s: Go always writes %q but the schema does not require it", at, name)
		}
	}
}

func checkField(t *testing.T, root, site schemaNode, ft reflect.Type, at string) {
	t.Helper()
	n := resolve(t, root, site)
	if site["description"] == nil && n["description"] == nil {
		t.Errorf("%s: no description", at)
	}
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	want := map[reflect.Kind]string{
		reflect.String: "string",
		reflect.Int:    "integer",
		reflect.Bool:   "boolean",
		reflect.Slice:  "array",
		reflect.Struct: "object",
	}[ft.Kind()]
	if want == "" {
		t.Errorf("%s: Go kind %s has no schema mapping in this test", at, ft.Kind())
		return
	}
	if n["type"] != want {
		t.Errorf("%s: schema type %v, want %s (Go %s)", at, n["type"], want, ft)
		return
	}
	switch ft.Kind() {
	case reflect.Struct:
		checkObject(t, root, n, ft, at)
	case reflect.Slice:
		items, ok := n["items"].(schemaNode)
		if !ok {
			t.Errorf("%s: array without items", at)
			return
		}
		checkField(t, root, items, ft.Elem(), at+"[]")
	}
}

// Enums must list exactly the constants the Go code switches on.
func TestSchemaEnumsMatchConstants(t *testing.T) {
	t.Parallel()
	root := loadSchemaJSON(t)
	defs := root["$defs"].(schemaNode)
	prop := func(n schemaNode, name string) schemaNode {
		return resolve(t, root, resolve(t, root, n)["properties"].(schemaNode)[name].(schemaNode))
	}
	for _, tc := range []struct {
		name string
		node schemaNode
		want []string
	}{
		{"status", prop(root, "status"), []string{events.VisitSigned, events.VisitVoided}},
		{"discipline", prop(defs["rendering_provider"].(schemaNode), "discipline"),
			[]string{events.DisciplineOT, events.DisciplinePT, events.DisciplineSLP}},
		{"plan_type", prop(defs["coverage"].(schemaNode), "plan_type"),
			[]string{events.PlanMedicarePartB, events.PlanMedicareAdvantage, events.PlanMedicaid,
				events.PlanCommercial, events.PlanWorkersComp, events.PlanOther}},
		{"relationship", prop(defs["coverage"].(schemaNode), "relationship"),
			[]string{events.RelationshipSelf, events.RelationshipSpouse, events.RelationshipChild, events.RelationshipOther}},
		{"assistant kind", prop(defs["assistant"].(schemaNode), "kind"), []string{"OTA", "PTA"}},
		{"sex", defs["sex"].(schemaNode), []string{"F", "M", "U"}},
		{"abn status", prop(defs["abn"].(schemaNode), "status"), []string{"signed", "not_covered_benefit", "not_obtained"}},
	} {
		got := stringSet(tc.node["enum"])
		want := slices.Clone(tc.want)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: schema enum %v, want %v", tc.name, got, want)
		}
	}
}

// mutate changes a copy of an example: set a value at a dotted path (array
// indexes as numbers), or delete it when value is del.
type deletion struct{}

var del deletion

func mutate(t *testing.T, doc []byte, at string, value any) any {
	t.Helper()
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(at, ".")
	cur := root
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if value == del {
					delete(c, k)
				} else {
					c[k] = value
				}
				return root
			}
			cur = c[k]
		case []any:
			var idx int
			if _, err := fmt.Sscan(k, &idx); err != nil || idx >= len(c) {
				t.Fatalf("bad index %q in %s", k, at)
			}
			if last {
				c[idx] = value
				return root
			}
			cur = c[idx]
		default:
			t.Fatalf("cannot descend into %s at %q", at, k)
		}
	}
	return root
}

func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	ex := examples(t)
	ot := ex["visit-ot-medicare.json"]
	slp := ex["visit-slp-child-medicaid.json"]
	tele := ex["visit-ot-assistant-telehealth.json"]
	void := ex["visit-void.json"]
	thirteen := make([]any, 13)
	for i := range thirteen {
		thirteen[i] = fmt.Sprintf("M62.8%d", i)
	}
	for _, tc := range []struct {
		name  string
		doc   []byte
		at    string
		value any
	}{
		{"missing services", ot, "services", del},
		{"missing total minutes", ot, "total_treatment_minutes", del},
		{"missing member id", ot, "coverage.member_id", del},
		{"missing patient address state", ot, "patient.address.state", del},
		{"revision 0", ot, "revision", 0},
		{"revision fractional", ot, "revision", 1.5},
		{"unknown status", ot, "status", "deleted"},
		{"unknown discipline", ot, "rendering_provider.discipline", "OTR"},
		{"unknown plan type", ot, "coverage.plan_type", "medicare"},
		{"unknown sex", ot, "patient.sex", "X"},
		{"unknown abn status", ot, "abn", map[string]any{"status": "maybe"}},
		{"unknown property", ot, "copay", 20},
		{"unknown nested property", ot, "patient.ssn", "000000000"},
		{"blank name", ot, "patient.last_name", "  "},
		{"short npi", ot, "billing_provider.npi", "123456789"},
		{"tin with dash", ot, "billing_provider.tin", "25-1234567"},
		{"lowercase state", ot, "patient.address.state", "pa"},
		{"zip with dash", ot, "patient.address.postal_code", "15217-1234"},
		{"one-digit place of service", ot, "place_of_service", "1"},
		{"impossible date", ot, "date_of_service", "2025-02-30"},
		{"date with time", ot, "date_of_service", "2025-03-14T10:00:00Z"},
		{"bad icd-10", ot, "diagnoses.0", "123.45"},
		{"icd-9", ot, "diagnoses.0", "438.21"},
		{"duplicate diagnosis", ot, "diagnoses.1", "I69.351"},
		{"no diagnoses", ot, "diagnoses", []any{}},
		{"thirteen diagnoses", ot, "diagnoses", thirteen},
		{"no services", ot, "services", []any{}},
		{"pointer 0", ot, "services.0.diagnosis_pointers", []any{0}},
		{"five pointers", ot, "services.0.diagnosis_pointers", []any{1, 2, 3, 1, 2}},
		{"minutes over a day", ot, "services.0.minutes", 1441},
		{"negative minutes", ot, "services.0.minutes", -5},
		{"total over a day", ot, "total_treatment_minutes", 1441},
		{"bad cpt", ot, "services.0.code", "9753"},
		{"lowercase modifier", ot, "services.0.requested_modifiers", []any{"go"}},
		{"child without subscriber", slp, "coverage.subscriber", del},
		{"spouse without subscriber", ot, "coverage.relationship", "spouse"},
		{"OTA assisting a PT", tele, "rendering_provider.discipline", "PT"},
		{"assistant without kind", tele, "rendering_provider.assistant.kind", del},
		{"void without visit id", void, "source_visit_id", del},
		{"void revision 0", void, "revision", 0},
		{"source with space", ot, "source", "acme emr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := sch.Validate(mutate(t, tc.doc, tc.at, tc.value))
			if err == nil {
				t.Fatalf("schema accepted %s = %v", tc.at, tc.value)
			}
			t.Logf("%v", err)
		})
	}
}

func TestSchemaAccepts(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	ex := examples(t)
	ot := ex["visit-ot-medicare.json"]
	for _, tc := range []struct {
		name  string
		at    string
		value any
	}{
		{"status omitted means signed", "status", del},
		{"undotted icd-10", "diagnoses.0", "I69351"},
		{"zip+4", "patient.address.postal_code", "152171234"},
		{"hcpcs code", "services.0.code", "G0283"},
		{"untimed without minutes", "services.0.minutes", del},
		{"abn", "abn", map[string]any{"status": "signed"}},
		{"self with subscriber", "coverage.subscriber", map[string]any{
			"first_name": "Evelyn", "last_name": "Testpatient", "birth_date": "1949-07-22", "sex": "F",
			"address": map[string]any{"line1": "18 Sample Street", "city": "Pittsburgh", "state": "PA", "postal_code": "15217"},
		}},
		{"void with the full visit", "status", "voided"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := sch.Validate(mutate(t, ot, tc.at, tc.value)); err != nil {
				t.Fatalf("schema refused %s = %v: %v", tc.at, tc.value, err)
			}
		})
	}
}
