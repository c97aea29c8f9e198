package events_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rcm-health/rcm/pkg/events"
)

// docsPath is relative to this package: go test runs in pkg/events.
const docsPath = "../../docs/events.md"

// dataTypes gives each event type's data type. It is written out here rather
// than taken from events.Decode so that the two check each other.
var dataTypes = map[string]func() any{
	events.TypeVisitRecorded:            func() any { return new(events.VisitRecorded) },
	events.TypeVisitCoded:               func() any { return new(events.VisitCoded) },
	events.TypeClaimScrubbed:            func() any { return new(events.ClaimScrubbed) },
	events.TypeClaimSubmitted:           func() any { return new(events.ClaimSubmitted) },
	events.TypeClaimAcknowledged:        func() any { return new(events.ClaimAcknowledged) },
	events.TypeRemitReceived:            func() any { return new(events.RemitReceived) },
	events.TypeClaimReconciled:          func() any { return new(events.ClaimReconciled) },
	events.TypeDenialOpened:             func() any { return new(events.DenialOpened) },
	events.TypeDenialUpdated:            func() any { return new(events.DenialUpdated) },
	events.TypeClaimCorrectionRequested: func() any { return new(events.ClaimCorrectionRequested) },
}

// sourceOfStream is the producer that owns each stream.
var sourceOfStream = map[string]string{
	events.StreamIntake:    events.SourceIntake,
	events.StreamCoder:     events.SourceCoder,
	events.StreamSubmitter: events.SourceSubmitter,
	events.StreamDenials:   events.SourceDenials,
}

type example struct {
	line int // where the block starts in docs/events.md, for messages
	raw  []byte
}

func (ex example) name() string { return fmt.Sprintf("events.md:%d", ex.line) }

// readExamples returns every ```json block of docs/events.md.
func readExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	var (
		out  []example
		cur  *example
		body bytes.Buffer
		n    int
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```json":
			cur = &example{line: n}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.raw = bytes.Clone(body.Bytes())
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan docs: %v", err)
	}
	if cur != nil {
		t.Fatalf("events.md:%d: json block never closed", cur.line)
	}
	if len(out) == 0 {
		t.Fatal("docs/events.md has no ```json examples")
	}
	return out
}

// decodeStrict decodes b into v and fails on a field v does not have or on
// anything after the value: the docs must show what the types are.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("data after the value (%v)", err)
	}
	return nil
}

// parseExample decodes an example's envelope and data strictly.
func parseExample(ex example) (events.Envelope, any, error) {
	env, err := events.Unmarshal(ex.raw)
	if err != nil {
		return env, nil, fmt.Errorf("events.Unmarshal: %w", err)
	}
	if err := decodeStrict(ex.raw, new(events.Envelope)); err != nil {
		return env, nil, fmt.Errorf("envelope: %w", err)
	}
	mk, ok := dataTypes[env.Type]
	if !ok {
		return env, nil, fmt.Errorf("type %q has no data type in this test", env.Type)
	}
	data := mk()
	if err := decodeStrict(env.Data, data); err != nil {
		return env, nil, fmt.Errorf("%s data: %w", env.Type, err)
	}
	return env, data, nil
}

func TestDocsExamplesDecode(t *testing.T) {
	t.Parallel()
	for _, ex := range readExamples(t) {
		t.Run(ex.name(), func(t *testing.T) {
			t.Parallel()
			env, data, err := parseExample(ex)
			if err != nil {
				t.Fatal(err)
			}

			stream, _ := events.StreamOf(env.Type)
			if want := sourceOfStream[stream]; env.Source != want {
				t.Errorf("source = %q, want %q: %s is produced into %s", env.Source, want, env.Type, stream)
			}
			if env.CorrelationID == "" {
				t.Error("correlation_id is empty")
			}

			got, err := events.Decode(env)
			if err != nil {
				t.Fatalf("events.Decode: %v", err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(data) {
				t.Errorf("events.Decode gave %T, want %T", got, data)
			}

			// The example must be exactly what a Go producer encodes, so that
			// it shows no field a producer would leave out and no number
			// written differently.
			re, err := json.Marshal(data)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var want, have any
			if err := json.Unmarshal(env.Data, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(re, &have); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want, have) {
				t.Errorf("data is not what %T encodes:\n docs: %s\n   Go: %s", data, compact(env.Data), re)
			}

			for _, msg := range arithmetic(data) {
				t.Error(msg)
			}
		})
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func TestDocsShowEveryType(t *testing.T) {
	t.Parallel()
	shown := map[string]bool{}
	for _, ex := range readExamples(t) {
		env, _, err := parseExample(ex)
		if err != nil {
			t.Fatalf("%s: %v", ex.name(), err)
		}
		shown[env.Type] = true
	}
	types := events.Types()
	slices.Sort(types)
	for _, typ := range types {
		if !shown[typ] {
			t.Errorf("docs/events.md has no example of %s", typ)
		}
		if _, ok := dataTypes[typ]; !ok {
			t.Errorf("%s has no data type in this test", typ)
		}
	}
	if len(dataTypes) != len(types) {
		t.Errorf("this test knows %d data types, events.Types() lists %d", len(dataTypes), len(types))
	}
}

// TestDocsShowEveryField fails when a field of a data type appears in no
// example of its type, so that adding a field means documenting it. The
// visit's own fields are exempt: docs/visit.schema.json and its examples
// document them.
func TestDocsShowEveryField(t *testing.T) {
	t.Parallel()
	shown := map[string]map[string]bool{}
	for _, ex := range readExamples(t) {
		env, _, err := parseExample(ex)
		if err != nil {
			t.Fatalf("%s: %v", ex.name(), err)
		}
		var v any
		if err := json.Unmarshal(env.Data, &v); err != nil {
			t.Fatal(err)
		}
		if shown[env.Type] == nil {
			shown[env.Type] = map[string]bool{}
		}
		jsonPaths("", v, shown[env.Type])
	}
	types := events.Types()
	slices.Sort(types)
	for _, typ := range types {
		mk, ok := dataTypes[typ]
		if !ok {
			continue // reported by TestDocsShowEveryType
		}
		want := map[string]bool{}
		goPaths("", reflect.TypeOf(mk()), want)
		var missing []string
		for p := range want {
			if !shown[typ][p] {
				missing = append(missing, p)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("%s: no example shows %s", typ, strings.Join(missing, ", "))
		}
	}
}

// jsonPaths records the path of every object key in v, with [] for arrays.
func jsonPaths(prefix string, v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := join(prefix, k)
			into[p] = true
			jsonPaths(p, e, into)
		}
	case []any:
		for _, e := range v {
			jsonPaths(prefix+"[]", e, into)
		}
	}
}

var visitType = reflect.TypeFor[events.Visit]()

// goPaths records the JSON path of every field of t as encoding/json names it.
func goPaths(prefix string, t reflect.Type, into map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			goPaths(prefix+"[]", t.Elem(), into)
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if t == visitType && prefix != "" {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		if f.Anonymous && f.Tag.Get("json") == "" {
			goPaths(prefix, f.Type, into) // encoding/json promotes its fields
			continue
		}
		p := join(prefix, jsonName(f))
		into[p] = true
		goPaths(p, f.Type, into)
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// arithmetic checks that an example's amounts add up the way the contract
// says they do, so that the docs teach the right sums.
func arithmetic(data any) []string {
	var errs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	switch d := data.(type) {
	case *events.VisitCoded:
		var charge int64
		var units int
		for _, l := range d.Lines {
			charge += l.ChargeCents
			if l.Timed {
				units += l.Units
			}
		}
		check(charge == d.ChargeCents, "visit.coded: lines charge %d, charge_cents %d", charge, d.ChargeCents)
		check(units == d.TotalTimedUnits, "visit.coded: timed lines have %d units, total_timed_units %d", units, d.TotalTimedUnits)
		check(d.RulesVersion != "", "visit.coded: rules_version is empty")
	case *events.ClaimSubmitted:
		var charge int64
		var units int
		for _, l := range d.Lines {
			charge += l.ChargeCents
			units += l.Units
		}
		check(charge == d.TotalChargeCents, "claim.submitted: lines charge %d, total_charge_cents %d", charge, d.TotalChargeCents)
		check(units == d.TotalUnits, "claim.submitted: lines have %d units, total_units %d", units, d.TotalUnits)
		check(len(d.ControlNumber) <= 17, "claim.submitted: control number %q is longer than 17", d.ControlNumber)
		check((d.Frequency == events.FrequencyOriginal) == (d.OriginalReference == ""),
			"claim.submitted: frequency %s with original_reference %q", d.Frequency, d.OriginalReference)
	case *events.ClaimReconciled:
		var charge, patient int64
		adjusted := sum(d.Adjustments, "")
		patient += sumGroup(d.Adjustments, "PR")
		for _, l := range d.Lines {
			adj := sum(l.Adjustments, "")
			check(l.ChargeCents-adj == l.PaidCents, "line %d: charge %d less adjustments %d is not paid %d", l.Line, l.ChargeCents, adj, l.PaidCents)
			cols := l.PaidCents + l.ContractualCents + l.PatientResponsibilityCents + l.DeniedCents + l.OtherAdjustmentCents
			check(cols == l.ChargeCents, "line %d: paid and columns add to %d, charge %d", l.Line, cols, l.ChargeCents)
			for col, got := range map[string]int64{
				events.PostingContractual: l.ContractualCents,
				events.PostingPatient:     l.PatientResponsibilityCents,
				events.PostingDenied:      l.DeniedCents,
				events.PostingOther:       l.OtherAdjustmentCents,
			} {
				check(sum(l.Adjustments, col) == got, "line %d: %s column %d, its adjustments %d", l.Line, col, got, sum(l.Adjustments, col))
			}
			charge += l.ChargeCents
			adjusted += adj
			patient += sumGroup(l.Adjustments, "PR")
		}
		check(charge == d.ChargeCents, "claim: lines charge %d, charge_cents %d", charge, d.ChargeCents)
		check(d.ChargeCents-adjusted == d.PaidCents, "claim: charge %d less adjustments %d is not paid %d", d.ChargeCents, adjusted, d.PaidCents)
		check(patient == d.PatientResponsibilityCents, "claim: PR adjustments %d, patient_responsibility_cents %d", patient, d.PatientResponsibilityCents)
		check((d.Outcome == events.OutcomeReversed) == (d.Reverses != ""), "claim: outcome %s with reverses %q", d.Outcome, d.Reverses)
	}
	return errs
}

// sum adds the adjustments posted to col, or all of them when col is "".
func sum(adjs []events.Adjustment, col string) int64 {
	var n int64
	for _, a := range adjs {
		if col == "" || a.Posting == col {
			n += a.AmountCents
		}
	}
	return n
}

func sumGroup(adjs []events.Adjustment, group string) int64 {
	var n int64
	for _, a := range adjs {
		if a.Group == group {
			n += a.AmountCents
		}
	}
	return n
}
