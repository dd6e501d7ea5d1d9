package feed_test

import (
	"fmt"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// A founder creates a dataset and admits a member; the member writes a
// burst that travels as one run with a single signature and is verified by
// a second replica.
func Example() {
	founder, _ := rns.NewIdentity(chachaReader{newChaCha(1)})
	member, _ := rns.NewIdentity(chachaReader{newChaCha(2)})
	const t0 = 1_700_000_000_000

	genesis, _ := feed.NewGenesis(founder, "flood survey", hlc.New(t0, 0))
	writer, _ := feed.NewLog(genesis, feed.Config{})

	var add feed.MemberAdd
	copy(add.Key[:], member.PublicKey())
	body, _ := feed.EncodeBody(add)
	admission, _, _ := writer.Append(founder, feed.KindMemberAdd, body, hlc.New(t0+1, 0))

	var clock hlc.Clock
	for i := range 3 {
		b, _ := feed.EncodeBody(feed.FieldSet{Record: "hh-7", Field: "people", Value: feed.Int(int64(4 + i))})
		if _, _, err := writer.Append(member, feed.KindFieldSet, b, clock.Now(t0+int64(1000*(i+1)))); err != nil {
			fmt.Println(err)
		}
	}

	// On air: one run, one signature.
	run := writer.Authenticated(member.Hash(), 1, 3)
	wire, _ := feed.EncodeRun(nil, run, feed.RunOpts{AuthorBytes: writer.AuthorPrefixLen(member.Hash())})

	replica, _ := feed.NewLog(genesis, feed.Config{})
	if _, err := replica.Ingest(admission); err != nil {
		fmt.Println(err)
	}
	events, _, err := feed.DecodeRun(wire, replica)
	if err != nil {
		fmt.Println(err)
	}
	accepted := 0
	for _, s := range events {
		res, err := replica.Ingest(s)
		if err != nil {
			fmt.Println(err)
		}
		accepted += len(res.Accepted)
	}
	fmt.Println("run bytes:", len(wire))
	fmt.Println("accepted:", accepted, "member seq:", replica.Seq(member.Hash()))
	// Output:
	// run bytes: 136
	// accepted: 3 member seq: 3
}
