#!/bin/sh
# Measures stamp/render: page render time at 100 DPI next to `mutool draw` on the same
# pages, cold start with and without the compilation cache, and (with --big) the peak
# memory of rendering and searching a 2000-page document.
# Run from the module root: sh stamp/render/bench.sh [--big]
# Needs mupdf-tools (mutool) and, for --big, GNU time (/usr/bin/time).
set -eu
pkg=./stamp/render
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/render.test" "$pkg"

# The same 20-page A4 contract (Latin and CJK text, rules, a box, an annotation) for both.
SEALKEEPER_RENDER_BENCH_PDF="$tmp/contract.pdf" "$tmp/render.test" -test.run '^TestWriteBenchPDF$' >/dev/null

pdfium_ns=$("$tmp/render.test" -test.run '^$' -test.bench '^BenchmarkRenderPage100DPI$' -test.benchtime 60x |
	awk '/^BenchmarkRenderPage100DPI/ {print $3}')
# mutool: the pages twice, so the second pass is warm like the Go benchmark; -s t prints
# the average per page (rasterising included; the PAM goes to /dev/null).
mutool_ms=$(mutool draw -q -s t -r 100 -F pam -o /dev/null "$tmp/contract.pdf" 1-20,1-20 2>&1 |
	awk '/^total/ {for (i = 1; i <= NF; i++) if ($i == "average") {v = $(i+2); sub("ms", "", v); print v}}')

echo
echo "Render one A4 page at 100 DPI (827x1170), warm, average over the 20-page contract:"
printf '  %-32s %8.2f ms/page\n' "go-pdfium (WebAssembly, wazero)" "$(echo "$pdfium_ns" | awk '{print $1/1e6}')"
printf '  %-32s %8.2f ms/page\n' "mutool draw (native MuPDF)" "$mutool_ms"
printf '  %-32s %8.2f\n' "ratio go-pdfium / mutool" "$(echo "$pdfium_ns $mutool_ms" | awk '{ if ($2 > 0) print $1/1e6/$2; else print 0 }')"

echo
echo "Cold start to the first page on screen (start PDFium, open, render page 1):"
"$tmp/render.test" -test.run '^$' -test.bench '^BenchmarkColdStart' -test.benchtime 3x |
	awk '/^BenchmarkColdStart/ {printf "  %-32s %8.0f ms\n", $1, $3/1e6}'

echo
echo "Thumbnail and keyword search:"
"$tmp/render.test" -test.run '^$' -test.bench '^Benchmark(Thumbnail|FindText20Pages)$' -test.benchtime 20x |
	awk '/^Benchmark/ {printf "  %-32s %8.2f ms\n", $1, $3/1e6}'

if [ "${1:-}" = "--big" ]; then
	echo
	echo "2000-page document: render every page at 100 DPI, 160 thumbnails, search all pages:"
	SEALKEEPER_RENDER_2000=1 /usr/bin/time -v "$tmp/render.test" -test.run '^TestLargeFilePeakMemory$' -test.v 2>"$tmp/time.txt" |
		grep -E 'peak|document|^(--- |ok|FAIL)' | sed 's/^/  /'
	grep -E 'Maximum resident|Elapsed' "$tmp/time.txt" | sed 's/^\s*/  /'
fi
