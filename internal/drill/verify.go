package drill

import (
	"cmp"
	"slices"
)

// Delivery is one drill record read back from Kafka.
type Delivery struct {
	Partition int32
	Offset    int64
	Key       string
	Seq       int64
}

// Verdict is what the verifier concluded from the deliveries.
type Verdict struct {
	// Delivered counts distinct accepted seqs found in Kafka; LeftInSpool
	// the accepted seqs not found there but durably in the disk spool
	// (delivered when it is next opened); Lost the accepted seqs in
	// neither: gone. Delivered + LeftInSpool + Lost = accepted.
	Delivered   int64
	LeftInSpool int64
	Lost        int64
	// DeliveredUnaccepted counts distinct seqs found whose Publish was not
	// accepted. They are neither a loss nor order-checked: the caller was
	// told (or, after a crash, could not be told) they were not accepted.
	DeliveredUnaccepted int64
	// Duplicates counts copies beyond the first of every seq.
	Duplicates int64
	// Reordered counts, per partition and key in offset order, the first
	// occurrences of accepted seqs that come after a larger accepted seq
	// of the same key. A second copy of an earlier seq (a replayed
	// duplicate) is counted as a duplicate, never as a reorder: the
	// consumer has already seen that seq in order.
	Reordered int64
	// Foreign counts deliveries whose seq is outside 1..sent.
	Foreign int64
	// LostSeqs, ReorderedSeqs and LeftInSpoolSeqs list the seqs counted,
	// ascending, at most maxListed each.
	LostSeqs        []int64
	ReorderedSeqs   []int64
	LeftInSpoolSeqs []int64
}

// Passed reports whether the delivery contract held: nothing accepted was
// lost or reordered. Records left in the spool are not lost: the spool
// delivers them when it is next opened.
func (v Verdict) Passed() bool { return v.Lost == 0 && v.Reordered == 0 }

// maxListed caps the seq lists in a verdict so a badly failing drill still
// writes a readable report.
const maxListed = 1000

// Verify checks deliveries against the publish outcomes. accepted[seq]
// says whether Publish returned nil for seq (index 0 is unused), so
// len(accepted)-1 seqs were sent. deliveries may come in any order; Verify
// sorts a copy by partition and offset. Every accepted seq not delivered
// is lost: see VerifyWithSpool for a drill that ends with records in a
// disk spool.
func Verify(accepted []bool, deliveries []Delivery) Verdict {
	return VerifyWithSpool(accepted, deliveries, nil)
}

// VerifyWithSpool is Verify for a drill whose disk spool still holds the
// seqs spooled when the bus closed: an accepted seq not delivered but
// among them is left in the spool, durable, not lost.
func VerifyWithSpool(accepted []bool, deliveries []Delivery, spooled []int64) Verdict {
	var v Verdict
	sent := int64(len(accepted) - 1)
	ds := slices.Clone(deliveries)
	slices.SortFunc(ds, func(a, b Delivery) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})

	type partKey struct {
		partition int32
		key       string
	}
	seen := make([]bool, max(sent+1, 1))
	highest := make(map[partKey]int64)
	for _, d := range ds {
		if d.Seq < 1 || d.Seq > sent {
			v.Foreign++
			continue
		}
		if seen[d.Seq] {
			v.Duplicates++
			continue
		}
		seen[d.Seq] = true
		if !accepted[d.Seq] {
			v.DeliveredUnaccepted++
			continue
		}
		v.Delivered++
		pk := partKey{d.Partition, d.Key}
		if d.Seq < highest[pk] {
			v.Reordered++
			if len(v.ReorderedSeqs) < maxListed {
				v.ReorderedSeqs = append(v.ReorderedSeqs, d.Seq)
			}
			continue
		}
		highest[pk] = d.Seq
	}
	inSpool := make(map[int64]bool, len(spooled))
	for _, seq := range spooled {
		inSpool[seq] = true
	}
	for seq := int64(1); seq <= sent; seq++ {
		switch {
		case !accepted[seq] || seen[seq]:
		case inSpool[seq]:
			v.LeftInSpool++
			if len(v.LeftInSpoolSeqs) < maxListed {
				v.LeftInSpoolSeqs = append(v.LeftInSpoolSeqs, seq)
			}
		default:
			v.Lost++
			if len(v.LostSeqs) < maxListed {
				v.LostSeqs = append(v.LostSeqs, seq)
			}
		}
	}
	slices.Sort(v.ReorderedSeqs)
	return v
}
