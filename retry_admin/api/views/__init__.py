"""The API's views, one module per area. Each parses its input with a
serializer, calls one service or selector, and renders."""
