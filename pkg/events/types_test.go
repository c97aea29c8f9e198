package events_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rcm-health/rcm/pkg/events"
)

func sortedTypes() []string {
	types := events.Types()
	slices.Sort(types)
	return types
}

func streamByName(name string) (events.Stream, bool) {
	for _, s := range events.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return events.Stream{}, false
}

func TestEveryTypeHasSubjectAndStream(t *testing.T) {
	t.Parallel()
	for _, typ := range sortedTypes() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			subject, ok := events.SubjectOf(typ)
			if !ok || subject == "" {
				t.Fatalf("SubjectOf(%q) = %q, %v", typ, subject, ok)
			}
			// Operators read the subject and find the type: rcm.<type
			// without its version>.
			name := typ[:strings.LastIndex(typ, ".v")]
			if want := "rcm." + name; subject != want {
				t.Errorf("subject = %q, want %q", subject, want)
			}
			stream, ok := events.StreamOf(typ)
			if !ok || stream == "" {
				t.Fatalf("StreamOf(%q) = %q, %v", typ, stream, ok)
			}
			s, ok := streamByName(stream)
			if !ok {
				t.Fatalf("stream %q is not in events.Streams", stream)
			}
			if !slices.ContainsFunc(s.Subjects, func(p string) bool { return subjectMatches(p, subject) }) {
				t.Errorf("stream %s subjects %v do not cover %s", s.Name, s.Subjects, subject)
			}
			for _, other := range events.Streams {
				if other.Name == s.Name {
					continue
				}
				for _, p := range other.Subjects {
					if subjectMatches(p, subject) {
						t.Errorf("stream %s also takes %s (pattern %s)", other.Name, subject, p)
					}
				}
			}
		})
	}
}

func TestUnknownTypeHasNoSubjectOrStream(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "visit.recorded", "visit.recorded.v2", "rcm.visit.recorded"} {
		if s, ok := events.SubjectOf(typ); ok {
			t.Errorf("SubjectOf(%q) = %q, true", typ, s)
		}
		if s, ok := events.StreamOf(typ); ok {
			t.Errorf("StreamOf(%q) = %q, true", typ, s)
		}
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, typ := range events.Types() {
		s, _ := events.SubjectOf(typ)
		used[s] = true
	}
	names := map[string]bool{}
	for i, s := range events.Streams {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if s.Name == "" || strings.ContainsAny(s.Name, ". *>") {
				t.Errorf("stream name %q is not a valid JetStream name", s.Name)
			}
			if s.Description == "" {
				t.Error("no description")
			}
			if len(s.Subjects) == 0 {
				t.Error("no subjects")
			}
			for _, p := range s.Subjects {
				// A subject no type is published on is a stream waiting for
				// events that never come; the dead-letter pattern is the one
				// exception.
				if !used[p] && p != events.SubjectDeadLetterPrefix+">" {
					t.Errorf("subject %s belongs to no event type", p)
				}
			}
			// JetStream refuses overlapping subjects across streams.
			for _, o := range events.Streams[i+1:] {
				for _, p := range s.Subjects {
					for _, q := range o.Subjects {
						if subjectsOverlap(p, q) {
							t.Errorf("%s (%s) overlaps %s (%s)", s.Name, p, o.Name, q)
						}
					}
				}
			}
		})
		if names[s.Name] {
			t.Errorf("stream %s listed twice", s.Name)
		}
		names[s.Name] = true
	}
	if _, ok := streamByName(events.StreamDeadLetter); !ok {
		t.Errorf("no %s stream", events.StreamDeadLetter)
	}
}

func TestTypesAreUnique(t *testing.T) {
	t.Parallel()
	types := sortedTypes()
	if got := slices.Compact(slices.Clone(types)); len(got) != len(types) {
		t.Errorf("Types() has duplicates: %v", types)
	}
	if len(types) != 10 {
		t.Errorf("Types() lists %d types, want the 10 of v1: %v", len(types), types)
	}
}

// TestMoneyIsCents walks every data type: money is int64 cents in a field
// named …Cents, and there is no float anywhere for it to hide in.
func TestMoneyIsCents(t *testing.T) {
	t.Parallel()
	for _, typ := range sortedTypes() {
		mk, ok := dataTypes[typ]
		if !ok {
			continue // reported by TestDocsShowEveryType
		}
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			seen := map[reflect.Type]bool{}
			var walk func(path string, rt reflect.Type)
			walk = func(path string, rt reflect.Type) {
				switch rt.Kind() {
				case reflect.Pointer, reflect.Slice, reflect.Array:
					walk(path, rt.Elem())
				case reflect.Float32, reflect.Float64:
					t.Errorf("%s is a %s", path, rt)
				case reflect.Struct:
					if seen[rt] {
						return
					}
					seen[rt] = true
					for i := range rt.NumField() {
						f := rt.Field(i)
						p := path + "." + f.Name
						if strings.HasSuffix(f.Name, "Cents") && f.Type.Kind() != reflect.Int64 {
							t.Errorf("%s is %s, want int64", p, f.Type)
						}
						if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); strings.HasSuffix(f.Name, "Cents") != strings.HasSuffix(tag, "_cents") {
							t.Errorf("%s has JSON name %q: money fields end in _cents in both", p, tag)
						}
						walk(p, f.Type)
					}
				}
			}
			rt := reflect.TypeOf(mk()).Elem()
			walk(rt.Name(), rt)
		})
	}
}

// subjectMatches reports whether a NATS subject pattern (with * and >)
// matches a literal subject.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

// subjectsOverlap reports whether some subject matches both patterns.
func subjectsOverlap(a, b string) bool {
	x, y := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] == ">" || y[i] == ">" {
			return true
		}
		if x[i] != "*" && y[i] != "*" && x[i] != y[i] {
			return false
		}
	}
	return len(x) == len(y)
}

func TestSubjectMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"rcm.visit.coded", "rcm.visit.coded", true},
		{"rcm.visit.coded", "rcm.visit.recorded", false},
		{"rcm.visit.coded", "rcm.visit", false},
		{"rcm.*.coded", "rcm.visit.coded", true},
		{"rcm.dlq.>", "rcm.dlq.coder", true},
		{"rcm.dlq.>", "rcm.dlq", false},
		{"rcm.>", "rcm.visit.coded", true},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
	overlaps := []struct {
		a, b string
		want bool
	}{
		{"rcm.visit.coded", "rcm.visit.coded", true},
		{"rcm.visit.coded", "rcm.claim.coded", false},
		{"rcm.dlq.>", "rcm.visit.coded", false},
		{"rcm.>", "rcm.dlq.coder", true},
		{"rcm.*.coded", "rcm.visit.*", true},
		{"rcm.visit", "rcm.visit.coded", false},
	}
	for _, tt := range overlaps {
		if got := subjectsOverlap(tt.a, tt.b); got != tt.want {
			t.Errorf("subjectsOverlap(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
