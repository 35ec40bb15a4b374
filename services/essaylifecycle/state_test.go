package essaylifecycle

import "testing"

func TestEssayStatesOnlyMoveForward(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{StateAwaitingContent, StateContentReady, true},
		{StateContentReady, StateSpellchecking, true},
		{StateSpellchecking, StateSpellchecked, true},
		{StateSpellchecked, StateCJAssessing, true},
		{StateContentReady, StateCJAssessing, true}, // a pipeline without spellcheck
		{StateCJAssessing, StateRanked, true},
		{StateSpellchecking, StateFailed, true},
		{StateSpellchecked, StateSpellchecking, false},
		{StateRanked, StateCJAssessing, false},
		{StateRanked, StateFailed, false},
		{StateFailed, StateContentReady, false},
		{StateContentReady, StateContentReady, false},
	}
	for _, tt := range tests {
		if got := canMove(tt.from, tt.to); got != tt.want {
			t.Errorf("canMove(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}
