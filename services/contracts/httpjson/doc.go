// Package httpjson is the JSON side of the services' REST APIs: one error
// body format for every service, strict request decoding that names the
// offending field, and the correlation id header.
//
// Every error response has the body
//
//	{"error": {"code": "invalid_field", "message": "essay_count must be between 1 and 500, got 0", "field": "essay_count"}}
//
// with a stable machine-readable code, a message for people and, for
// validation errors, the field at fault. servicekit's API server gives the
// same body for what net/http answers itself (an unknown path, a method
// the path does not take), so a client of a service only ever parses
// this. GetByID is the whole handler of a GET endpoint for one resource
// (200, or 404 naming the id).
//
// Bodies are bounded before they are read: LimitBody (which Decode calls)
// answers a Content-Length over the limit with 413 at once, so a client
// that sent "Expect: 100-continue" is not asked for a body the server
// would refuse half way.
//
// Usage:
//
//	var req createClassRequest
//	if err := httpjson.Decode(w, r, &req, 1<<20); err != nil {
//		httpjson.WriteErr(w, err) // 400/413/415 with the problem named
//		return
//	}
//	if req.Name == "" {
//		httpjson.WriteError(w, http.StatusBadRequest, httpjson.CodeInvalidField, "name is required", "name")
//		return
//	}
//	httpjson.Write(w, http.StatusCreated, class)
package httpjson
