// Package submitter is the third stage: it turns coded visits into claims,
// scrubs them, writes X12 837P batches to the clearinghouse mailbox and
// reconciles the acknowledgements. This first part holds the claim model
// mapping: what a coded visit becomes on an 837P.
package submitter
