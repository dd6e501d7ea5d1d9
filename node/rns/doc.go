// Package rns implements the Reticulum network stack's wire formats and
// cryptography, byte-compatible with the Reticulum reference implementation
// RNS 1.4.2. It is pure: no goroutines, sockets or clocks. Every random
// input is an io.Reader argument and every time a value, so the reference
// vectors in testdata/ (produced by running RNS itself; see
// ../shared/RETICULUM.md) reproduce byte for byte. The live stack —
// interfaces, router, link state machine — is in node/rns/transport.
//
// # Contents
//
//   - Identity (identity.go): X25519+Ed25519 key pairs, identity hash,
//     sign/verify, the reference's 64-byte key file. Encrypt/Decrypt
//     (encrypt.go): ephemeral X25519 + HKDF(salt = identity hash) + Token,
//     to the identity key or an announced ratchet; DecryptWithRatchets tries
//     retained ratchets first and can enforce them. Ratchet, RatchetID,
//     RatchetRing (rotation every 30 min, 512 retained; MarshalFile and
//     UnmarshalRatchetFile use the reference's signed ratchet file format,
//     writing the file durably is the caller's).
//   - HKDF (hkdf.go): the reference's HKDF-SHA256, including its wrapping
//     block counter beyond 8160 bytes.
//   - Token (token.go): modified Fernet, AES-128-CBC (32-byte key) or
//     AES-256-CBC (64-byte key) + HMAC-SHA256, constant-time MAC check,
//     strict PKCS#7, IV from an io.Reader or explicit (AppendEncrypt).
//   - Destination (destination.go): SINGLE, GROUP, PLAIN; In/Out; name hash
//     and destination hash as the reference; GROUP key create/load and
//     Token encryption; PLAIN passthrough; remote ratchet for outbound
//     SINGLE; ratchet ring and enforcement for inbound SINGLE.
//   - Packet (packet.go): both header types, all packet types and contexts,
//     hops, transport id, context flag, Pack/PackMTU/Unmarshal, packet hash
//     and truncated hash over the hashable part, MTU/MDU/EncryptedMDU/LinkMDU.
//   - Announces (announce.go): Destination.Announce builds them (random hash
//     = 5 random bytes + 5-byte Unix time, optional ratchet, app data, path
//     response context); ParseAnnounce/ValidateAnnounce return AnnounceData
//     (destination, public key, name hash, random hash, Timestamp, ratchet,
//     app data) or a typed error (ErrAnnounceSignature,
//     ErrAnnounceDestination, ErrTruncated, ...). Rejecting a key that
//     differs from the one already known for a destination is stateful and
//     left to the router (ErrAnnounceKeyConflict is provided for it).
//   - Proofs (proof.go): NewProof (implicit/explicit, as RNS/Identity.prove)
//     and ValidateProof.
//   - Path requests (pathrequest.go): NewPathRequest, ParsePathRequest,
//     PathRequestDestination.
//   - Links (link.go): NewLinkInitiator (request with MTU signalling),
//     LinkID, AcceptLinkRequest (responder: key derivation + LRPROOF),
//     LinkInitiator.Accept (proof validation), and LinkSession for traffic:
//     Packet/Open (Token under the HKDF-derived link key), RTT packets
//     (msgpack float64), keepalives (ff/fe), teardown (Token(link id)),
//     identify, explicit packet proofs; KeepaliveInterval and the timing
//     constants. Link state (pending/active/stale/closed) belongs to
//     node/rns/transport.
//   - Link requests (request.go): EncodeRequest/DecodeRequest and
//     EncodeResponse/DecodeResponse for the msgpack payloads of REQUEST and
//     RESPONSE link packets; RequestPathHash.
//   - IFAC (ifac.go): NewIFAC derives the key and identity from network
//     name and/or passphrase (IFACSalt); Apply signs, flags and masks an
//     outgoing packet; Verify unmasks, checks and strips an incoming one;
//     CheckOpen is the rule for interfaces without IFAC.
//   - Framing (framing.go): HDLC (TCP interfaces) AppendHDLC, HDLCDeframer
//     and HDLCReader with the reference's exact unescaping and frame-length
//     rules; KISS AppendKISS and KISSDeframer.
//
// # Bad input
//
// Every parser — ParsePacket, ParseAnnounce, ParseLinkRequest,
// ParseLinkProof, ParsePathRequest, DecodeRTT, DecodeRequest,
// DecodeResponse, UnmarshalRatchetFile, Token.Decrypt,
// Identity.Decrypt, IFAC.Verify and the deframers — rejects truncated,
// oversized or garbage input with a typed error (a *ParseError wrapping
// ErrTruncated/ErrOversized/ErrMalformed, or a specific sentinel), never
// panics, and never allocates from a length field. Fuzz targets cover each.
//
// # Deliberate differences from the reference
//
//   - Token padding is checked strictly (RNS only checks the last byte);
//     RNS never produces the inputs this refuses.
//   - NewDestination refuses an inbound SINGLE/GROUP destination without an
//     identity instead of inventing a random one.
//   - ParsePacket refuses a packet whose IFAC flag is still set; IFAC.Apply
//     refuses one that already has it.
package rns
