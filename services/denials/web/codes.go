package web

// carcText is a claim adjustment reason code's meaning from the rules'
// catalog; "" when the catalog does not know it, and the page shows the
// bare code.
func (s *server) carcText(code string) string {
	if s.store.Rules == nil {
		return ""
	}
	c, _ := s.store.Rules.CARC(code)
	return c.Text
}

// rarcText is a remittance advice remark code's meaning, as carcText.
func (s *server) rarcText(code string) string {
	if s.store.Rules == nil {
		return ""
	}
	m, _ := s.store.Rules.RARC(code)
	return m.Text
}
