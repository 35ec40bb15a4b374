package classmgmt_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/classmgmt"
)

// The Store conformance suite, run against the memory store and the SQL
// one on SQLite and PostgreSQL.

func forEachStore(t *testing.T, test func(t *testing.T, store classmgmt.Store)) {
	t.Run("memory", func(t *testing.T) { test(t, classmgmt.NewMemoryStore()) })
	for dialect, open := range servicekittest.Databases(t, classmgmt.Migrations()) {
		t.Run(string(dialect), func(t *testing.T) { test(t, classmgmt.NewSQLStore(open(t))) })
	}
}

var errBoom = errors.New("fn fails")

var created = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

func class(id string, minute int) classmgmt.Class {
	return classmgmt.Class{ClassID: id, ClassDesignation: "Year 9 " + id, CourseCodes: []string{"ENG5"}, UserID: "teacher-1",
		StudentIDs: []string{}, CreatedAt: created.Add(time.Duration(minute) * time.Minute)}
}

func TestStoreKeepsWhatATransactionPutAndReadsItBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, store classmgmt.Store) {
		ctx := context.Background()
		c := class("c-1", 0)
		st := classmgmt.Student{StudentID: "s-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
			ClassIDs: []string{"c-1"}, CreatedAt: created}
		a := classmgmt.EssayAssociation{BatchID: "b-1", EssayID: "e-1", StudentID: "s-1", Revision: 1, CreatedAt: created}
		err := store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error {
			for _, put := range []error{tx.PutClass(c), tx.PutStudent(st), tx.PutAssociation(a)} {
				if put != nil {
					return put
				}
			}
			// The transaction reads its own writes.
			if got, ok, err := tx.Class("c-1"); err != nil || !ok || !reflect.DeepEqual(got, c) {
				return fmt.Errorf("inside the transaction Class = %+v, %v, %v", got, ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := store.Class(ctx, "c-1"); err != nil || !ok || !reflect.DeepEqual(got, c) {
			t.Errorf("Class = %+v, %v, %v; want %+v", got, ok, err, c)
		}
		if got, ok, err := store.Student(ctx, "s-1"); err != nil || !ok || !reflect.DeepEqual(got, st) {
			t.Errorf("Student = %+v, %v, %v; want %+v", got, ok, err, st)
		}
		err = store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error {
			got, ok, err := tx.Association("b-1", "e-1")
			if err != nil || !ok || !reflect.DeepEqual(got, a) {
				t.Errorf("Association = %+v, %v, %v; want %+v", got, ok, err, a)
			}
			if _, ok, err := tx.Association("b-1", "e-2"); ok || err != nil {
				t.Errorf("Association of another essay = %v, %v; want none", ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := store.Class(ctx, "c-none"); ok || err != nil {
			t.Errorf("Class of an unknown id = %v, %v; want not found and no error", ok, err)
		}
	})
}

func TestStoreKeepsNothingOfAFailedTransaction(t *testing.T) {
	forEachStore(t, func(t *testing.T, store classmgmt.Store) {
		ctx := context.Background()
		err := store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error {
			if err := tx.PutClass(class("c-1", 0)); err != nil {
				return err
			}
			return errBoom // the class's event was not accepted
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Tx = %v, want fn's error", err)
		}
		if _, ok, err := store.Class(ctx, "c-1"); ok || err != nil {
			t.Fatalf("Class after a failed transaction = %v, %v; want nothing kept", ok, err)
		}
	})
}

func TestStoreListsClassesByCreationTimeThenID(t *testing.T) {
	forEachStore(t, func(t *testing.T, store classmgmt.Store) {
		ctx := context.Background()
		err := store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error {
			for _, c := range []classmgmt.Class{class("c-b", 1), class("c-c", 0), class("c-a", 1)} {
				if err := tx.PutClass(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := store.Classes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ClassID)
		}
		if want := []string{"c-c", "c-a", "c-b"}; !reflect.DeepEqual(ids, want) {
			t.Fatalf("Classes = %v, want %v", ids, want)
		}
	})
}

func TestStoreTransactionsTakeTurns(t *testing.T) {
	forEachStore(t, func(t *testing.T, store classmgmt.Store) {
		ctx := context.Background()
		if err := store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error { return tx.PutClass(class("c-1", 0)) }); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := store.Tx(ctx, func(_ context.Context, tx classmgmt.Tx) error {
					c, _, err := tx.Class("c-1")
					if err != nil {
						return err
					}
					c.StudentIDs = append(c.StudentIDs, fmt.Sprintf("s-%d", i))
					return tx.PutClass(c)
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if c, _, _ := store.Class(ctx, "c-1"); len(c.StudentIDs) != n {
			t.Fatalf("%d students after %d concurrent enrolments: one was lost", len(c.StudentIDs), n)
		}
	})
}
