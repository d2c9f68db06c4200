import Foundation
import PackagePlugin

/// Compiles the target's shaders with glslc and embeds the SPIR-V in generated Swift source,
/// so a binary carries its shaders and never looks for them on disk. Each target owns one folder:
/// `SloMoInterp` compiles `Shaders/interp/*.comp`, `SloMoNeural` compiles `Shaders/neural/*.comp`.
@main
struct ShaderCompiler: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = target.name.replacingOccurrences(of: "SloMo", with: "").lowercased()
        let shaderDir = context.package.directoryURL.appending(path: "Shaders/\(folder)")
        let script = context.package.directoryURL.appending(path: "Plugins/ShaderCompiler/embed.sh")
        // Git keeps no empty folders, so a target whose shaders are not written yet has none on a fresh clone.
        guard FileManager.default.fileExists(atPath: shaderDir.path) else { return [] }
        let files = try FileManager.default.contentsOfDirectory(at: shaderDir, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        // Every shader depends on the shared includes (its own folder's, and interp/'s colour code,
        // which the neural runtime reuses), so a change to one rebuilds all.
        let interpDir = context.package.directoryURL.appending(path: "Shaders/interp")
        let shared = shaderDir == interpDir ? [] : try FileManager.default.contentsOfDirectory(at: interpDir, includingPropertiesForKeys: nil)
        let includes = (files + shared).filter { $0.pathExtension == "glsl" }
        return files.filter { $0.pathExtension == "comp" }.map { source in
            let name = source.deletingPathExtension().lastPathComponent
            let output = context.pluginWorkDirectoryURL.appending(path: "Shader+\(name).swift")
            return .buildCommand(
                displayName: "Compiling shader \(name)",
                executable: URL(filePath: "/bin/sh"),
                arguments: [script.path, source.path, output.path, name, shaderDir.path],
                inputFiles: [source, script] + includes,
                outputFiles: [output])
        }
    }
}
