// Package spool holds the fallback queues of the resilient Kafka bus: where
// ResilientBus puts accepted records while Kafka is unavailable, and where
// its drainer replays them from, in order, once Kafka is back.
//
// Two implementations keep the Queue contract (see Queue; the shared
// conformance tests are in package spooltest):
//
//   - Memory (NewMemory(MemoryOptions{MaxRecords, Overflow})) is bounded
//     in records and lives in the process: what it holds is lost with the
//     process, and Close reports how much that is.
//   - Disk (OpenDisk(dir, DiskOptions{...})) is the durable spool
//     described below: a segmented log in a directory, bounded in bytes,
//     that survives crashes and restarts.
//
// # Usage
//
//	d, err := spool.OpenDisk("/var/lib/huleedu/spool", spool.DiskOptions{
//		MaxBytes: 2 << 30,
//		Overflow: spool.OverflowBlock,
//	})
//	if err != nil {
//		return err // errors.Is(err, spool.ErrLocked): another process has it
//	}
//	defer d.Close()
//	err = d.Append(ctx, rec) // nil: written and fsynced
//	entries, err := d.Peek(ctx, 256)
//	// ... produce entries to Kafka, in order ...
//	err = d.Ack(entries[len(entries)-1].Seq)
//
// # What "accepted" means
//
// Append returns nil only after the records' bytes were written to a
// segment file and that file was fsynced (and, for a new segment, its
// directory). Concurrent Appends share the write and the fsync (group
// commit, leader and followers): an Append that finds no commit in
// progress writes and fsyncs at once, in its own goroutine; Appends that
// arrive during that fsync queue up, and when it ends the oldest of them
// writes the whole queue with one write and one fsync, for all of them.
// There is no delay to gather a group and no committer goroutine, so an
// idle spool answers after a single fsync without a thread handoff, and
// throughput grows with the number of publishers. An Append either
// stores all its records or none.
//
// A write or fsync error is never ignored. Every Append of the failed
// group gets an error wrapping ErrFailed and the cause (ENOSPC, EIO, ...),
// and the group is cut off at once: the segment is cut back to the end of
// the last good group and fsynced, the segments the group created are
// removed. The spool then refuses Appends with ErrFailed (Stats.Failed
// says why, since when and when it probes next) and probes the storage in
// the background, backing off from 50 ms to DiskOptions.ProbeInterval (1
// s): a probe first finishes whatever part of the cut-off failed, then
// writes and fsyncs a page to probe.tmp, then reopens the newest segment
// through a new descriptor, checking that it ends where its last commit
// did. When a probe succeeds the spool accepts Appends again, without
// being reopened. So no record is ever written after bytes of a group
// that failed, and a full disk that gets space back (the drain itself
// gives back segments) is written to again within a second. After a
// failed fsync Linux may already have dropped the dirty pages and marked
// them clean ("fsyncgate", PostgreSQL, 2018): the spool never trusts them,
// since the group they belong to is cut off, and what was committed
// before had been fsynced while the storage still worked. Records
// accepted before the failure stay readable, drainable and
// acknowledgeable throughout. A failed dead-letter write is cut off the
// same way, by the next DeadLetter, which then goes on.
//
// # Directory layout
//
//	spool.lock              lock file: flock(2) held by the owner, its pid inside
//	head                    how far the queue and dead letters are consumed
//	head.tmp                a head file being written by an open (removed on open)
//	probe.tmp               written and removed by a probe of failed storage (removed on open)
//	00000000000000000001.seg   segments, named by the seq of their first record
//	00000000000000004097.seg   (20 digits, so names sort in seq order)
//	deadletter.log          the dead-letter store
//	quarantine/<name>-<offset>.bin   damaged ranges moved aside (on open, or while reading)
//
// Other names are left alone (logged once per open).
//
// # Segment and dead-letter log format
//
// All integers are little endian. A log file is a 16-byte header followed
// by frames, back to back:
//
//	header
//	0   4  magic: "HSEG" (segment) or "HDLQ" (dead-letter log)
//	4   1  format version: 1
//	5   3  zero
//	8   8  base: a segment's first seq, equal to its name; 0 for deadletter.log
//
//	frame
//	0   4  payload length n (17 <= n <= 256 MiB)
//	4   4  CRC32C (Castagnoli) of the payload
//	8   n  payload
//
//	record payload (kind 1)
//	0   1  kind: 1 = record, format 1
//	1   8  seq
//	9   8  appended-at, unix nanoseconds
//	17  .  topic: uvarint length, bytes
//	    .  key: uvarint length+1 (0 = null), bytes
//	    .  value: uvarint length+1 (0 = null), bytes
//	    .  headers: uvarint count, then each: key (uvarint length, bytes),
//	       value (uvarint length+1, 0 = null, bytes)
//
//	dead-letter payload (kind 2)
//	0   1  kind: 2 = dead letter, format 1
//	1   8  dead-letter id
//	9   8  dead-lettered at, unix nanoseconds
//	17  .  reason: uvarint length, bytes
//	    .  the entry: seq, appended-at, topic, key, value, headers as above
//
// Decoding is strict (minimal varints, no trailing bytes), so a valid
// payload has exactly one encoding. The kind and the ordinal (seq or id)
// sit at fixed offsets so that a scan resynchronising after damage can
// reject almost every candidate offset without computing a checksum.
//
// The head file is two 4096-byte slots, a file-system block each. An
// update (Ack, DeadLetter's removal of a dead letter, Purge) writes the
// new state over the older slot, in place, and fsyncs the file: one write
// and one fsync of a file whose size never changes (on a file system that
// overwrites in place, such as ext4 or XFS, it needs no new blocks), and a
// crash or failure in the middle leaves the newer slot intact (its block
// is not rewritten). Open reads the
// valid slot with the higher generation, then replaces the whole file
// atomically (written to head.tmp, fsynced, renamed over head, directory
// fsynced) with the recovered state in one slot and the other empty.
// A slot (bytes 64 to 4095 zero):
//
//	0   4  magic "HHED"      32  8  offset of the first unacknowledged record
//	4   1  format version 2  40  8  first dead-letter id not yet removed
//	5   3  zero              48  8  next seq (a floor: see below)
//	8   8  generation        56  4  CRC32C of bytes 0..55
//	16  8  acked seq         60  4  zero
//	24  8  segment of the first unacknowledged record (0: none)
//
// Slot 0 holds even generations, slot 1 odd ones; an all-zero slot was
// never written. The next seq is the one after the last committed record
// when the slot was written (every Ack records it), or above: it keeps
// seqs from being handed out twice, and tells an open how far the log
// went, so that records lost at its end are found too. A version 1 head file (one 52-byte record: the fields
// above without the generation, CRC at 48) is still read, and rewritten
// as version 2 by the open that reads it.
//
// # Invariants
//
//   - Seqs strictly increase in append order and are never handed out
//     twice, across restarts too: the next seq is above every seq in the
//     segments, the acknowledged seq and the head file's floor, and above
//     any seq a quarantined tail could have held. The seqs of a group
//     commit that failed go to the next records: none of its bytes is left
//     in a segment.
//   - Every seq in a segment is at least its name and below the next
//     segment's name.
//   - Peek sees only bytes whose group commit finished: the read cursor
//     never reads past the committed end, so it never caches half-written
//     bytes.
//   - A record is removed only by Ack or DeadLetter (or Purge). Ack writes
//     the head file first and deletes segment files after, when every
//     record in them is acknowledged, in the background (Close waits for
//     it; a deletion a crash interrupts is redone on open, since the head
//     file already says the segment is acknowledged); when the queue
//     drains completely the last segment goes too and the next append
//     starts a new one. Disk use therefore shrinks a segment at a time
//     while draining. (Damage takes the records it destroyed out of the
//     queue too, and is reported: see Reading and Recovery on open.)
//   - DeadLetter writes the entry to deadletter.log and fsyncs it before
//     acknowledging it in the queue: a crash in between leaves it in both
//     (delivered again, and listed as a dead letter), never in neither.
//
// # Reading
//
// Peek streams from disk through one cached cursor (an open segment and a
// 256 KiB buffer): a Peek after acknowledging the previous Peek's entries
// continues where it stopped, without seeking or rescanning, and a repeated
// Peek is served from the buffer. The cursor never reads over a buffer
// whose records are not all acknowledged, so returned entries alias the
// bytes read instead of being copied out (callers must not write to them,
// and must copy what they keep past the entry's Ack or DeadLetter). Once
// the head has passed all of a buffer's bytes it is filled again: a drain
// reuses a few dozen buffers (at most 64 a cursor are kept, 16 MiB) instead of
// allocating, zeroing and faulting in a new one every 256 KiB. A
// PeekAfter that returns a full batch reads the next two batches in the
// background, for a drainer that continues from it while it produces the
// last; when it takes the first of those two, the next read-ahead starts,
// so the reader keeps going while the drainer produces. The read-ahead
// has a cursor and buffers of its own and reads without the read side's
// lock, so a PeekAfter taking the batch already read, or an Ack (but for
// the one that retires a segment), does not wait for it. Memory is
// bounded by the buffers (of each cursor) and what the caller asks Peek
// for (up to three batches more when read ahead), whatever the backlog: a
// million queued records cost no more memory than ten. Ack writes the head file (one
// fsync), so acknowledge in batches; Peek, PeekAfter and the read-ahead
// go on meanwhile (Ack holds the read side's lock only to plan the new
// head and to apply it once written).
//
// The cursor checks every frame it reads, so damage that appears in a
// committed segment while the spool is open (bit rot, a stray write) is
// found by the read that meets it. The reader then does what recovery on
// open does, without stopping the drain: it resynchronises on the next
// valid frame of the segment (or takes the damage to the segment's
// committed end), copies the range to quarantine/<name>-<offset>.bin and
// fsyncs it, logs it once, counts it in Stats.Quarantined, counts the
// records it held out of the queue and reports them as a gap
// (Stats.Gaps, Stats.MissingRecords), and goes on with the next record:
// the range becomes a hole of its segment that every later read skips.
// The segment keeps the bytes until it is acknowledged and removed; an
// open before then finds the range again and cuts it out, keeping the one
// quarantined copy. If the copy cannot be written, the read returns what
// precedes the damage and fails at it with ErrFailed until it can.
//
// # Recovery on open
//
// OpenDisk takes the lock, then reads everything the previous owner left:
//
//  1. Read the head file: its newer valid slot. If it is missing or
//     neither slot is valid, replay from the oldest segment; with only the
//     older slot valid, replay from there. Acknowledged records may then
//     be delivered again (duplicates are allowed by the delivery
//     contract); none is skipped.
//  2. List the directory. Segments whose every record is acknowledged
//     (the next segment starts at or below acked+1) are removed unread.
//  3. Scan every other segment frame by frame, from its header, or from
//     the head file's offset when the frame there carries exactly acked+1
//     (which proves everything before it acknowledged). A frame is valid
//     when its length is in range, its CRC matches, its payload decodes
//     and its seq is above the previous one and inside the segment's
//     range. After an invalid frame the scan resynchronises on the next
//     offset where a valid frame starts.
//  4. Classify the damage. At the end of the newest segment, a frame cut
//     short, one whose length runs past the end of the file, or zeros are
//     an interrupted write: truncated (logged), never quarantined. Any
//     other damaged range (a flipped bit, a bad length, a bad header, a
//     cut in an older segment) is copied to quarantine/<name>-<offset>.bin
//     and fsynced, counted in Stats.Quarantined and logged, and the
//     segment is rewritten without it (temp file, fsync, rename), so the
//     spool continues with the next valid record.
//  5. Remove zero-length segments, segments cut off inside their header,
//     segments left without an unacknowledged record, and leftover
//     temporary files.
//  6. Recover deadletter.log the same way, then write a fresh head file.
//  7. Report the gaps: every seq between the head (acked+1, or the oldest
//     record found when the head file is unusable) and the tail (the next
//     seq less one, which the head file's next seq and the newest
//     segment's name bound from below) that no valid record carries was
//     handed out to a record that is gone: a segment deleted, emptied or
//     cut short behind the spool's back, or damage quarantined in step 4.
//     Each gap (first and last missing seq, count) goes to Stats.Gaps and
//     Stats.MissingRecords and is logged once; every open reports it
//     until the head has passed it. After damage at the very end of the
//     newest segment nobody knows how many records were there: as many
//     seqs as could have fitted are skipped (never handed out again) and
//     reported, an upper bound. An open that finds the next seq not
//     following the newest segment's last record starts a new segment for
//     the next append, so that seqs never jump inside a segment written
//     since.
//
// Each recovery event is logged once, at Warn. Inspect runs steps 1 to 4
// and 7 without changing anything and reports what an open would do.
//
// # Inside a Disk
//
// A Disk is five parts, each a type with one lock whose doc comment says
// what it guards:
//
//	type           files it writes                what its lock guards
//	writer         segments (appends), probe.tmp  pending appends and the committer role, the segment list
//	                                              with committed ends and holes, seqs, the queued count
//	                                              and bytes, the storage failure and its probes
//	reader         quarantine/ (while running)    the head position and acked seq, Peek's cursor, the
//	                                              window of entries handed out, read-aheads handed over
//	aheadCursor    none (reads only)              the read-ahead's own cursor
//	headFile       head                           the head state; held by what moves the head (Ack,
//	                                              DeadLetter, removing dead letters, Purge, Close)
//	                                              from planning the move to applying it
//	deadLetterLog  deadletter.log                 the log's descriptor, size and ids (a count in an
//	                                              atomic for Stats; Redrive takes a turn token)
//
// Locks are taken in this order: headFile, reader, deadLetterLog,
// aheadCursor, writer. Append takes only the writer's; Peek the reader's,
// and the writer's for a moment to find committed ends; the group commit
// and the probes write without any lock, by whoever holds the writer's
// committer role. OpenDisk (recovery: disk_plan.go, disk_recover.go) owns
// the directory before any of them runs, and writes head and quarantine/
// too; the Disk itself holds spool.lock.
//
// # Locking
//
// One process per directory: OpenDisk takes an exclusive flock(2) on
// spool.lock and writes its pid there. flock locks belong to an open file
// description, so a second OpenDisk of the same directory fails whether it
// comes from another process or the same one, with a *LockedError
// (wrapping ErrLocked) such as "spool: open /x: locked by pid 4121". The
// kernel drops the lock when the holder exits, crash included. Inspect
// probes the lock with a shared flock held for an instant; OpenDisk waits
// up to 100 ms for such a probe to pass before reporting the directory as
// locked.
//
// # Limits
//
// MaxBytes bounds the queued records' FrameSize (payload plus the 8-byte
// frame header). When it is reached, OverflowBlock waits (first come,
// first served) until acknowledgements make room or the context ends
// (ErrFull wrapped with ctx.Err()), OverflowReject fails at once with
// ErrFull. An Append larger than MaxBytes, or a record over 256 MiB - 8
// KiB, fails with ErrTooLarge. Dead letters are not counted against
// MaxBytes. A spool reopened with a smaller limit than it holds keeps
// every record. Segments roll at SegmentBytes; a larger record gets a
// segment of its own.
//
// # Operator functions
//
// Inspect, Dump and DumpDeadLetters read a spool directory without taking
// its lock or writing anything, so they work while a service runs. Purge
// takes the lock (ErrLocked while a service holds it), removes every queued
// record and dead letter, and reports exactly how many; quarantined files
// are kept for the operator. Redrive and RequeueDeadLetters work on an
// open Disk. Each refuses a path that does not exist or holds no spool
// (no head file, lock file, segment or dead-letter log) with ErrNotSpool,
// creating and writing nothing; DiskOptions.Existing gives OpenDisk the
// same check, for tools that must not make a spool of a mistyped path.
package spool
