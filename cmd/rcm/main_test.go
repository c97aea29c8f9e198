package main

import (
	"testing"

	"github.com/rcm-health/rcm/internal/pgserver/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
