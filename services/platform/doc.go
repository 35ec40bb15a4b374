// Package platform lists the HuleEdu services that make up the platform,
// in the one order everything that runs them all uses: `huleedu serve
// all` (whose default ports follow it) and the end-to-end tests.
//
//	group, err := servicegroup.Start(ctx, environ, platform.Specs())
package platform
