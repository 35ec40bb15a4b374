package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

var (
	sizes = []int{10, 20, 35, 40, 50, 55, 60}
	// topTier is the tier of topWords, before SCOWL's sizes.
	topTier = 5
	kinds   = []string{"english-words", "american-words", "english-contractions", "english-upper",
		"american-upper", "english-proper-names", "american-proper-names"}
)

func main() {
	dir := flag.String("scowl", "/usr/share/dict/scowl", "directory of the SCOWL final lists")
	out := flag.String("o", "dict/words.txt.gz", "output file")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dictgen:", err)
		os.Exit(1)
	}
}

// topWords are the most frequent words of written English.
var topWords = strings.Fields(`
the of and to a in is it you that he was for on are with as I his they be at
one have this from or had by not but what some we can out other were all
there when up use your how said an each she which do their time if will way
about many then them would like so these her make him into has more two
could go see no most people my over know than first who may been now any new
work also after very just where through back much before good little years
our should because those well only even must here while another same such
between three long again off thing down place great still around under
without never always something every both last during however himself might
does why own right different found though against come came went made take
took give gave get got think thought say says tell told want wanted need
needed feel felt become became seem seemed world life school house state
family group country problem hand part children important really whether
often later until
`)

func run(dir, out string) error {
	seen := map[string]bool{}
	tiers := map[int][]string{}
	for _, w := range topWords {
		if !seen[w] {
			seen[w] = true
			tiers[topTier] = append(tiers[topTier], w)
		}
	}
	for _, size := range sizes {
		for _, kind := range kinds {
			words, err := readList(filepath.Join(dir, fmt.Sprintf("%s.%d", kind, size)))
			if err != nil {
				return err
			}
			for _, w := range words {
				if !seen[w] {
					seen[w] = true
					tiers[size] = append(tiers[size], w)
				}
			}
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	total := 0
	for _, size := range append([]int{topTier}, sizes...) {
		words := tiers[size]
		slices.Sort(words)
		fmt.Fprintf(bw, "#%d\n", size)
		for _, w := range words {
			bw.WriteString(w)
			bw.WriteByte('\n')
		}
		total += len(words)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("dictgen: %d words written to %s\n", total, out)
	return nil
}

// readList reads one SCOWL list; a size that has no list of this kind is
// simply empty.
func readList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var words []string
	for line := range strings.Lines(string(b)) {
		if w := strings.TrimSpace(line); w != "" {
			words = append(words, w)
		}
	}
	return words, nil
}
