fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap();
        match kroll_stack::StackFile::parse(text, path.clone()) {
            Ok(f) => println!("{path}: ok {:?}", f.services().collect::<Vec<_>>()),
            Err(e) => println!("{e}"),
        }
    }
}
