package clearinghouse

import (
	"context"
	"strings"
)

// WithSuffixes is t seen by a reader of some kinds of files only: List
// returns just the inbound files whose names end in one of suffixes. Two
// stages share one mailbox this way (the submitter reads .999 and .277, the
// denials stage .835) without archiving each other's files.
func WithSuffixes(t Transport, suffixes ...string) Transport {
	return suffixFilter{Transport: t, suffixes: suffixes}
}

type suffixFilter struct {
	Transport
	suffixes []string
}

func (f suffixFilter) List(ctx context.Context) ([]File, error) {
	all, err := f.Transport.List(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, file := range all {
		for _, s := range f.suffixes {
			if strings.HasSuffix(file.Name, s) {
				out = append(out, file)
				break
			}
		}
	}
	return out, nil
}
