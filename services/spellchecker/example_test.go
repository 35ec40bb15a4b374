package spellchecker_test

import (
	"fmt"

	"github.com/huleedu/huleedu/services/spellchecker"
)

func ExampleDictionary_Check() {
	dict, err := spellchecker.DefaultDictionary()
	if err != nil {
		fmt.Println(err)
		return
	}
	res := dict.Check("Teh students did not recieve thier grades.")
	for _, c := range res.Corrections {
		fmt.Printf("%d %s -> %s\n", c.Offset, c.Word, c.Suggestion)
	}
	fmt.Println(res.WordCount, "words")
	// Output:
	// 0 Teh -> The
	// 21 recieve -> receive
	// 29 thier -> their
	// 7 words
}
