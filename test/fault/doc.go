// Package fault holds the pipeline's proof under failure (issue 6, "Prove
// it"): the real rcm binary, several processes per service, a three-node
// JetStream cluster and a private PostgreSQL, with nodes, processes, the
// database and the message server killed or restarted while signed visits
// flow, and poison messages on every stage's input. Each test ends by
// checking that every accepted visit went through each stage exactly once,
// in the streams and in the services' own tables.
//
// The package has no code outside its tests; this file only documents it.
//
//	go test ./test/fault/                     # every test, about two minutes
//	go test -short ./test/fault/              # none: they start processes
//	RCM_FAULT_KEEP=1 go test ./test/fault/    # keep logs and data of a failed test
//	RCM_FAULT_RCM_BIN=/path/rcm go test ...   # test that binary instead of building one
package fault
