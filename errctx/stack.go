package errctx

import (
	"runtime"
	"strconv"
)

// Frame is one call site of an Error's stack.
type Frame struct {
	// Function is the package-qualified function name
	// ("github.com/huleedu/huleedu/kafkabus.(*ResilientBus).Publish").
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// String returns "function file:line".
func (f Frame) String() string {
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
}

// captureStack returns up to depth frames, skipping skip frames counted as
// runtime.Callers counts them (0 = runtime.Callers itself).
func captureStack(skip, depth int) []Frame {
	if depth <= 0 {
		return nil
	}
	var buf [defaultStackDepth]uintptr
	pcs := buf[:]
	if depth > len(buf) {
		pcs = make([]uintptr, depth)
	}
	n := runtime.Callers(skip, pcs[:depth])
	if n == 0 {
		return nil
	}
	frames := runtime.CallersFrames(pcs[:n])
	out := make([]Frame, 0, n)
	for {
		fr, more := frames.Next()
		// goexit is the bottom of every goroutine: noise in every trace.
		if fr.Function != "runtime.goexit" && fr.Function != "" {
			out = append(out, Frame{Function: fr.Function, File: fr.File, Line: fr.Line})
		}
		if !more {
			break
		}
	}
	return out
}
