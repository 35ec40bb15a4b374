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
// inside fn, so a change whose event the bus did not accept is not kept
// and the client can simply retry. (A database-backed Store maps Tx to a
// transaction and publishes through an outbox table.)
type Store interface {
	// Tx runs fn with exclusive access to the store.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// Class, Student and Classes read outside a transaction.
	Class(ctx context.Context, id string) (Class, bool)
	Student(ctx context.Context, id string) (Student, bool)
	Classes(ctx context.Context) []Class
}

// Tx is the view of the store inside Store.Tx. Values are copies: change
// them and Put them back.
type Tx interface {
	Class(id string) (Class, bool)
	PutClass(c Class)
	Student(id string) (Student, bool)
	PutStudent(s Student)
	Association(batchID, essayID string) (EssayAssociation, bool)
	PutAssociation(a EssayAssociation)
}

// MemoryStore is the in-memory Store: data lives as long as the process.
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
func (m *MemoryStore) Tx(_ context.Context, fn func(Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{s: m, classes: map[string]Class{}, students: map[string]Student{}, associations: map[string]EssayAssociation{}}
	if err := fn(tx); err != nil {
		return err
	}
	maps.Copy(m.classes, tx.classes)
	maps.Copy(m.students, tx.students)
	maps.Copy(m.associations, tx.associations)
	return nil
}

// Class implements Store.
func (m *MemoryStore) Class(_ context.Context, id string) (Class, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.classes[id]
	return c.clone(), ok
}

// Student implements Store.
func (m *MemoryStore) Student(_ context.Context, id string) (Student, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.students[id]
	return s.clone(), ok
}

// Classes implements Store: every class, by creation time then id.
func (m *MemoryStore) Classes(_ context.Context) []Class {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Class, 0, len(m.classes))
	for _, c := range m.classes {
		out = append(out, c.clone())
	}
	slices.SortFunc(out, func(a, b Class) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ClassID, b.ClassID)
	})
	return out
}

// read returns the transaction's own write of k, else the store's value.
func read[V any](written, stored map[string]V, k string) (V, bool) {
	if v, ok := written[k]; ok {
		return v, true
	}
	v, ok := stored[k]
	return v, ok
}

func (t *memTx) Class(id string) (Class, bool) {
	c, ok := read(t.classes, t.s.classes, id)
	return c.clone(), ok
}

func (t *memTx) PutClass(c Class) { t.classes[c.ClassID] = c.clone() }

func (t *memTx) Student(id string) (Student, bool) {
	s, ok := read(t.students, t.s.students, id)
	return s.clone(), ok
}

func (t *memTx) PutStudent(s Student) { t.students[s.StudentID] = s.clone() }

func (t *memTx) Association(batchID, essayID string) (EssayAssociation, bool) {
	return read(t.associations, t.s.associations, batchID+"\x00"+essayID)
}

func (t *memTx) PutAssociation(a EssayAssociation) { t.associations[a.BatchID+"\x00"+a.EssayID] = a }
