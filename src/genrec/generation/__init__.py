"""The generative loop: instructor, AI editor, AI creator, and the pipeline that ranks what they make."""
