package classmgmt

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Store keeps classes, students and essay associations.
//
// Every change goes through Tx: fn sees a consistent view and its writes
// become visible only if it returns nil. The handlers publish their events
// inside fn, with the ctx fn is given, so a change whose event the bus did
// not accept is not kept and the client can simply retry. SQLStore maps Tx
// to a database transaction that fn's ctx carries, whose events wait in
// the outbox until it commits.
type Store interface {
	// Tx runs fn with exclusive access to what fn reads, and keeps fn's
	// writes only if fn returns nil.
	Tx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Class, Student and Classes read outside a transaction. ok is false
	// for an unknown id; err is the store's failure.
	Class(ctx context.Context, id string) (c Class, ok bool, err error)
	Student(ctx context.Context, id string) (s Student, ok bool, err error)
	Classes(ctx context.Context) ([]Class, error)
}

// Tx is the view of the store inside Store.Tx. Values are copies: change
// them and Put them back. A read locks what it read until the
// transaction ends.
type Tx interface {
	Class(id string) (Class, bool, error)
	PutClass(c Class) error
	Student(id string) (Student, bool, error)
	PutStudent(s Student) error
	Association(batchID, essayID string) (EssayAssociation, bool, error)
	PutAssociation(a EssayAssociation) error
}

// sortClasses orders classes by creation time, then id.
func sortClasses(cs []Class) {
	slices.SortFunc(cs, func(a, b Class) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClassID, b.ClassID)
	})
}

// MemoryStore is the in-memory Store, for tests: data lives as long as the
// process.
// One mutex serialises transactions (class management is low-traffic);
// a transaction writes to an overlay that is merged on success. It is
// safe for concurrent use.
type MemoryStore struct {
	mu           sync.RWMutex
	classes      map[string]Class
	students     map[string]Student
	associations map[string]EssayAssociation // by batch id + NUL + essay id
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{classes: map[string]Class{}, students: map[string]Student{}, associations: map[string]EssayAssociation{}}
}

// memTx is a MemoryStore transaction: reads fall through to the store,
// writes go to the overlay maps.
type memTx struct {
	s            *MemoryStore
	classes      map[string]Class
	students     map[string]Student
	associations map[string]EssayAssociation
}

// Tx implements Store.
func (m *MemoryStore) Tx(ctx context.Context, fn func(context.Context, Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{s: m, classes: map[string]Class{}, students: map[string]Student{}, associations: map[string]EssayAssociation{}}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	maps.Copy(m.classes, tx.classes)
	maps.Copy(m.students, tx.students)
	maps.Copy(m.associations, tx.associations)
	return nil
}

// Class implements Store.
func (m *MemoryStore) Class(_ context.Context, id string) (Class, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.classes[id]
	return c.clone(), ok, nil
}

// Student implements Store.
func (m *MemoryStore) Student(_ context.Context, id string) (Student, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.students[id]
	return s.clone(), ok, nil
}

// Classes implements Store: every class, by creation time then id.
func (m *MemoryStore) Classes(_ context.Context) ([]Class, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Class, 0, len(m.classes))
	for _, c := range m.classes {
		out = append(out, c.clone())
	}
	sortClasses(out)
	return out, nil
}

// read returns the transaction's own write of k, else the store's value.
func read[V any](written, stored map[string]V, k string) (V, bool) {
	if v, ok := written[k]; ok {
		return v, true
	}
	v, ok := stored[k]
	return v, ok
}

func (t *memTx) Class(id string) (Class, bool, error) {
	c, ok := read(t.classes, t.s.classes, id)
	return c.clone(), ok, nil
}

func (t *memTx) PutClass(c Class) error {
	t.classes[c.ClassID] = c.clone()
	return nil
}

func (t *memTx) Student(id string) (Student, bool, error) {
	s, ok := read(t.students, t.s.students, id)
	return s.clone(), ok, nil
}

func (t *memTx) PutStudent(s Student) error {
	t.students[s.StudentID] = s.clone()
	return nil
}

func (t *memTx) Association(batchID, essayID string) (EssayAssociation, bool, error) {
	a, ok := read(t.associations, t.s.associations, batchID+"\x00"+essayID)
	return a, ok, nil
}

func (t *memTx) PutAssociation(a EssayAssociation) error {
	t.associations[a.BatchID+"\x00"+a.EssayID] = a
	return nil
}
