"""`python -m docsgen`: write every generated part of the documentation."""

from docsgen import build

if __name__ == "__main__":
    for path in build.generate():
        print(f"docsgen: wrote {path}")
