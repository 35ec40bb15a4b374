package servicegroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/huleedu/huleedu/servicekit"
)

// Group is a set of started services, each its own App with its own
// settings, breakers, metrics and ports.
type Group struct {
	apps []*servicekit.App // in start order
}

// Start starts specs in dependency order, each from environ (KEY=value
// strings) as that service sees it, plus the URLs of its dependencies. On
// failure the services already started are stopped again.
func Start(ctx context.Context, environ []string, specs []servicekit.ServiceSpec, opts ...servicekit.Option) (*Group, error) {
	order, err := startOrder(specs)
	if err != nil {
		return nil, err
	}
	g := &Group{}
	started := make(map[string]*servicekit.App, len(specs))
	for _, spec := range order {
		e := servicekit.NewEnv(spec.Name, environ)
		extra := map[string]string{}
		for dep, variable := range spec.DependencyURLs {
			if _, _, set := e.Lookup(variable); set || started[dep] == nil {
				continue
			}
			api := started[dep].Endpoints().API
			if api == "" {
				return nil, g.abort(ctx, fmt.Errorf("servicegroup: %s depends on %s, which serves no API", spec.Name, dep))
			}
			extra[servicekit.Prefix(spec.Name)+variable] = api
		}
		a, err := servicekit.New(e.With(extra), spec.Module, opts...)
		if err != nil {
			return nil, g.abort(ctx, err)
		}
		if err := a.Start(ctx); err != nil {
			return nil, g.abort(ctx, err)
		}
		g.apps = append(g.apps, a)
		started[spec.Name] = a
	}
	return g, nil
}

// abort stops what was started, within the longest SHUTDOWN_TIMEOUT of
// those services (as Run's stop), and returns err.
func (g *Group) abort(ctx context.Context, err error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.ShutdownTimeout())
	defer cancel()
	return errors.Join(err, g.Stop(sctx))
}

// startOrder sorts specs so that every service comes after the services
// of the list it depends on; a cycle is an error.
func startOrder(specs []servicekit.ServiceSpec) ([]servicekit.ServiceSpec, error) {
	byName := make(map[string]servicekit.ServiceSpec, len(specs))
	for _, s := range specs {
		if s.Name == "" {
			return nil, errors.New("servicegroup: a ServiceSpec has no Name")
		}
		if _, dup := byName[s.Name]; dup {
			return nil, fmt.Errorf("servicegroup: service %q listed twice", s.Name)
		}
		byName[s.Name] = s
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order []servicekit.ServiceSpec
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("servicegroup: dependency cycle: %s", strings.Join(append(path, name), " -> "))
		}
		s, ok := byName[name]
		if !ok {
			// Not started here: its URL must come from the environment.
			return nil
		}
		state[name] = visiting
		deps := make([]string, 0, len(s.DependencyURLs))
		for d := range s.DependencyURLs {
			deps = append(deps, d)
		}
		slices.Sort(deps)
		for _, d := range deps {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, s)
		return nil
	}
	for _, s := range specs {
		if err := visit(s.Name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Apps returns the services in start order.
func (g *Group) Apps() []*servicekit.App { return slices.Clone(g.apps) }

// App returns the started service named name.
func (g *Group) App(name string) (*servicekit.App, bool) {
	for _, a := range g.apps {
		if a.Service() == name {
			return a, true
		}
	}
	return nil, false
}

// Stop stops the services in reverse start order, each gracefully within
// ctx, so callers stop before the services they call.
func (g *Group) Stop(ctx context.Context) error {
	var errs []error
	for i := len(g.apps) - 1; i >= 0; i-- {
		errs = append(errs, g.apps[i].Stop(ctx))
	}
	return errors.Join(errs...)
}

// Failed returns a channel that receives the first service whose server
// failed; Run stops the group when it does.
func (g *Group) Failed(ctx context.Context) <-chan *servicekit.App {
	ch := make(chan *servicekit.App, 1)
	for _, a := range g.apps {
		go func() {
			select {
			case <-a.Runner().Failed():
				select {
				case ch <- a:
				default:
				}
			case <-ctx.Done():
			}
		}()
	}
	return ch
}

// ShutdownTimeout returns the longest SHUTDOWN_TIMEOUT of the group's
// services.
func (g *Group) ShutdownTimeout() time.Duration {
	var d time.Duration
	for _, a := range g.apps {
		d = max(d, time.Duration(a.Settings().ShutdownTimeout))
	}
	return d
}
