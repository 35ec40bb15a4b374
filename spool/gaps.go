package spool

import (
	"fmt"
	"strings"
)

// maxReportedGaps bounds the gaps Stats lists (it counts them all).
const maxReportedGaps = 16

// gapFinder collects the gaps in a sequence of seqs seen in increasing
// order.
type gapFinder struct {
	next uint64 // the seq expected next; 0 until one is known
	gaps []Gap
}

// see notes that seq is present.
func (g *gapFinder) see(seq uint64) {
	if g.next != 0 && seq > g.next {
		g.gaps = append(g.gaps, Gap{First: g.next, Last: seq - 1, Records: int64(seq - g.next)})
	}
	g.next = seq + 1
}

// end notes that every seq below next was handed out.
func (g *gapFinder) end(next uint64) {
	if g.next != 0 && next > g.next {
		g.gaps = append(g.gaps, Gap{First: g.next, Last: next - 1, Records: int64(next - g.next)})
		g.next = next
	}
}

// missingRecords sums the records of gaps.
func missingRecords(gaps []Gap) int64 {
	var n int64
	for _, g := range gaps {
		n += g.Records
	}
	return n
}

// gapList formats gaps for a log line: "101-200, 350" (the first
// maxReportedGaps, then how many more).
func gapList(gaps []Gap) string {
	var b strings.Builder
	for i, g := range gaps {
		if i == maxReportedGaps {
			fmt.Fprintf(&b, " and %d more", len(gaps)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(g.String())
	}
	return b.String()
}
