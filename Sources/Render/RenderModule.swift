// Render: turns a parsed message into what a recipient sees. It never touches the spool or
// the state store (DESIGN §2): it takes bytes and returns bytes.
