use rowan::ast::AstNode;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let parse = yaml_edit::YamlFile::parse(&text);
    println!("errors: {:?}", parse.errors());
    let file: yaml_edit::YamlFile = parse.tree();
    println!("{:#?}", file.syntax());
}
