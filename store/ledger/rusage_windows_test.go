package ledger_test

import "testing"

// maxRSS: Windows has no getrusage(2), and in particular no peak of the child processes a
// process has waited for (the child check's figure), so BenchmarkVerify1M, whose point is
// those peaks, skips there; its figures are Linux ones.
func maxRSS(tb testing.TB, _ bool) float64 {
	tb.Helper()
	tb.Skip("BenchmarkVerify1M reports peak memory from getrusage(2), which Windows does not have")
	return 0
}
